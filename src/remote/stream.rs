//! The whole-object verify: one pinned request, its body fed in order to the crate's in-order
//! verification as it arrives, so memory stays bounded whatever the object's size.

use futures::StreamExt;

use super::source::RemoteSource;
use super::{bounded, store_error};
use crate::error::{Error, Result};
use crate::read::{InOrderVerify, Reader};

/// [`Reader::verify`] for a remote object, in one request.
pub(super) async fn verify_whole(reader: &Reader<RemoteSource>) -> Result<()> {
    let source = reader.source();
    let size = source.size();
    let result = source.get_whole().await?;
    let mut body = result.into_stream();
    let mut check = InOrderVerify::new(reader);
    let mut received: u64 = 0;
    // Each piece within the timeout: a stalled body fails, a slow but moving one does not.
    let timeout = source.config().timeout;
    while let Some(piece) = bounded(timeout, Some(received), async { Ok(body.next().await) }).await? {
        let piece = piece.map_err(|e| store_error(Some(received), e))?;
        let end = received.saturating_add(piece.len() as u64);
        if end > size {
            return Err(Error::bad_response(
                received,
                format!("the response holds more than the object's {size} bytes"),
            ));
        }
        check.feed(&piece)?;
        received = end;
    }
    if received < size {
        return Err(Error::bad_response(
            received,
            format!("the response ended after {received} of the object's {size} bytes"),
        ));
    }
    check.finish()
}
