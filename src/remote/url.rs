//! URLs and options to stores, through `object_store`'s own scheme parser and builders:
//! credentials from the environment as `object_store`'s `from_env` builders read them, then the
//! explicit options over them; the `amber_*` options set a [`RemoteConfig`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreScheme};

use super::{store_error, AsyncReader, RemoteConfig, RemoteReader, RemoteUpload, MIN_PART_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use crate::read::{Metadata, ReadOptions};

/// True if `text` names a URL (`scheme://...`) rather than a local path.
pub fn is_url(text: &str) -> bool {
    match text.split_once("://") {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

#[cold]
fn invalid(detail: impl Into<crate::error::Detail>) -> Error {
    Error::new(ErrorKind::InvalidOptions, None, detail)
}

/// The store, the object's path in it and this module's settings for `url` with `options`
/// (`object_store` configuration keys for the URL's scheme, and `amber_timeout`,
/// `amber_suffix_reads`, `amber_part_size`). An unknown key is InvalidOptions.
pub fn parse_url<I, K, V>(url: &str, options: I) -> Result<(Arc<dyn ObjectStore>, Path, RemoteConfig)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let parts = UrlParts::parse(url, options)?;
    super::install_crypto();
    let store = build(parts.scheme, &parts.url, parts.store_options)?;
    Ok((store, parts.path, parts.config))
}

/// A URL and its options, taken apart: what the store is built from, and the rest.
struct UrlParts {
    scheme: ObjectStoreScheme,
    url: ::url::Url,
    path: Path,
    config: RemoteConfig,
    store_options: Vec<(String, String)>,
}

impl UrlParts {
    fn parse<I, K, V>(url: &str, options: I) -> Result<UrlParts>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let parsed = ::url::Url::parse(url).map_err(|e| invalid(format!("not a URL: {url}: {e}")))?;
        let (scheme, path) = ObjectStoreScheme::parse(&parsed).map_err(|e| invalid(format!("{url}: {e}")))?;
        let mut config = RemoteConfig {
            suffix_reads: scheme != ObjectStoreScheme::MicrosoftAzure,
            ..RemoteConfig::default()
        };
        let mut store_options = Vec::new();
        for (key, value) in options {
            let key = key.as_ref().to_ascii_lowercase();
            let value: String = value.into();
            match key.as_str() {
                "amber_timeout" => {
                    let seconds: f64 = value
                        .trim_end_matches('s')
                        .parse()
                        .map_err(|_| invalid(format!("amber_timeout: not a number of seconds: {value}")))?;
                    config.timeout = Duration::try_from_secs_f64(seconds)
                        .ok()
                        .filter(|t| !t.is_zero())
                        .ok_or_else(|| invalid(format!("amber_timeout: out of range: {value}")))?;
                }
                "amber_suffix_reads" => {
                    config.suffix_reads = parse_bool(&value)
                        .ok_or_else(|| invalid(format!("amber_suffix_reads: not a boolean: {value}")))?;
                }
                "amber_part_size" => {
                    config.part_size =
                        value
                            .parse()
                            .ok()
                            .filter(|&n| n >= MIN_PART_SIZE)
                            .ok_or_else(|| {
                                invalid(format!(
                                    "amber_part_size: not a size of at least {MIN_PART_SIZE}: {value}"
                                ))
                            })?;
                }
                _ => store_options.push((key, value)),
            }
        }
        Ok(UrlParts {
            scheme,
            url: parsed,
            path,
            config,
            store_options,
        })
    }
}

/// [`parse_url`] for the blocking functions, which run on this module's one runtime: a store
/// built before from the same location, options and environment is used again, so that a
/// second open skips loading the system's TLS roots and reuses the client's open connections.
/// The async API builds its own: a client's pooled connections belong to the runtime they were
/// made on.
fn parse_url_kept<I, K, V>(url: &str, options: I) -> Result<(Arc<dyn ObjectStore>, Path, RemoteConfig)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    /// Stores kept at once; past it the one used longest ago is dropped.
    const KEPT_STORES: usize = 16;
    static KEPT: Mutex<Vec<(StoreKey, Arc<dyn ObjectStore>)>> = Mutex::new(Vec::new());

    let parts = UrlParts::parse(url, options)?;
    // An in-memory store is its objects: each URL gets a new, empty one, as with parse_url.
    let key = (parts.scheme != ObjectStoreScheme::Memory)
        .then(|| StoreKey::new(&parts))
        .flatten();
    let kept_store = |key: &StoreKey| {
        let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = kept.iter().position(|(k, _)| k == key)?;
        let entry = kept.remove(found);
        let store = Arc::clone(&entry.1);
        kept.push(entry);
        Some(store)
    };
    if let Some(store) = key.as_ref().and_then(kept_store) {
        return Ok((store, parts.path, parts.config));
    }
    super::install_crypto();
    let store = build(parts.scheme, &parts.url, parts.store_options)?;
    if let Some(key) = key {
        let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() == KEPT_STORES {
            kept.remove(0);
        }
        kept.push((key, Arc::clone(&store)));
    }
    Ok((store, parts.path, parts.config))
}

/// Everything a store is built from: the URL up to the object's path within the store (the
/// scheme, the authority and, for path-style URLs, the bucket), the options, and the
/// environment variables the builders read credentials and settings from.
#[derive(PartialEq, Eq)]
struct StoreKey {
    location: String,
    options: Vec<(String, String)>,
    environment: Vec<(String, String)>,
}

impl StoreKey {
    fn new(parts: &UrlParts) -> Option<StoreKey> {
        let parsed = &parts.url;
        // The object's path is the URL's whole path, or what follows its first segment (the
        // bucket or container of a path-style URL); ObjectStoreScheme::parse decided which.
        let whole = Path::from_url_path(parsed.path()).ok()?;
        let mut location = parsed[..::url::Position::BeforePath].to_owned();
        if whole != parts.path {
            location.push('/');
            location.push_str(parsed.path_segments()?.next()?);
        }
        if let Some(query) = parsed.query() {
            location.push('?');
            location.push_str(query);
        }
        let mut options = parts.store_options.clone();
        options.sort();
        const READ_FROM_ENVIRONMENT: [&str; 4] = ["AWS_", "GOOGLE_", "AZURE_", "OBJECT_STORE_"];
        let mut environment: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(key, _)| READ_FROM_ENVIRONMENT.iter().any(|prefix| key.starts_with(prefix)))
            .collect();
        environment.sort();
        Some(StoreKey {
            location,
            options,
            environment,
        })
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Applies every option to `builder` with `with_config`, failing on a key it does not know,
/// then builds the store.
fn configure<B, K: std::str::FromStr, T: ObjectStore>(
    builder: B,
    options: Vec<(String, String)>,
    with_config: impl Fn(B, K, String) -> B,
    build: impl FnOnce(B) -> object_store::Result<T>,
) -> Result<Arc<dyn ObjectStore>> {
    let builder = options.into_iter().try_fold(builder, |builder, (key, value)| {
        let parsed = key
            .parse::<K>()
            .map_err(|_| invalid(format!("unknown store option for this URL: {key}")))?;
        Ok::<B, Error>(with_config(builder, parsed, value))
    })?;
    Ok(Arc::new(build(builder).map_err(|e| store_error(None, e))?))
}

fn build(
    scheme: ObjectStoreScheme,
    url: &::url::Url,
    options: Vec<(String, String)>,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::{aws, azure, gcp, http, local, memory};
    let built: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::AmazonS3 => configure(
            aws::AmazonS3Builder::from_env().with_url(url.as_str()),
            options,
            aws::AmazonS3Builder::with_config,
            aws::AmazonS3Builder::build,
        )?,
        ObjectStoreScheme::GoogleCloudStorage => configure(
            gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str()),
            options,
            gcp::GoogleCloudStorageBuilder::with_config,
            gcp::GoogleCloudStorageBuilder::build,
        )?,
        ObjectStoreScheme::MicrosoftAzure => configure(
            azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
            options,
            azure::MicrosoftAzureBuilder::with_config,
            azure::MicrosoftAzureBuilder::build,
        )?,
        ObjectStoreScheme::Http => configure(
            http::HttpBuilder::new().with_url(&url[..::url::Position::BeforePath]),
            options,
            http::HttpBuilder::with_config,
            http::HttpBuilder::build,
        )?,
        ObjectStoreScheme::Local | ObjectStoreScheme::Memory => {
            if let Some((key, _)) = options.first() {
                return Err(invalid(format!("unknown store option for this URL: {key}")));
            }
            if scheme == ObjectStoreScheme::Local {
                Arc::new(local::LocalFileSystem::new())
            } else {
                Arc::new(memory::InMemory::new())
            }
        }
        _ => return Err(invalid(format!("unsupported URL scheme: {url}"))),
    };
    Ok(built)
}

/// Opens the Amber file at `url` as a blocking partial reader: see [`RemoteReader::open`].
pub fn open_url<I, K, V>(url: &str, options: I, read: ReadOptions) -> Result<RemoteReader>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let (store, path, config) = parse_url_kept(url, options)?;
    RemoteReader::open(store, path, config, read)
}

/// The validated metadata of the Amber file at `url`: the requests of an open, no data byte.
pub fn metadata_url<I, K, V>(url: &str, options: I, limits: &Limits) -> Result<Metadata>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let (store, path, config) = parse_url_kept(url, options)?;
    super::block_on(AsyncReader::read_metadata(store, path, config, limits))?
}

/// An upload to `url` for a [`Writer`](crate::Writer): see [`RemoteUpload`].
pub fn create_url<I, K, V>(url: &str, options: I) -> Result<RemoteUpload>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let (store, path, config) = parse_url_kept(url, options)?;
    RemoteUpload::new(store, path, config)
}

/// The whole object at `url` in memory, fetched in one pinned and checked request after the
/// request that fixes its size and version: for a whole-file reader ([`Reader::from_bytes`](crate::Reader::from_bytes)).
pub fn read_url<I, K, V>(url: &str, options: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let (store, path, config) = parse_url_kept(url, options)?;
    super::block_on(async {
        let source = super::RemoteSource::open(store, path, config).await?;
        let result = source.get_whole().await?;
        let size = source.size();
        let pieces = super::source::collect(result, 0..size).await?;
        super::source::concatenated(&pieces, size, 0)
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(url: &str, options: &[(&str, &str)]) -> Arc<dyn ObjectStore> {
        let options = options.iter().map(|&(k, v)| (k, v.to_owned()));
        parse_url_kept(url, options).unwrap().0
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "builds HTTP clients (TLS roots, ring's C code): hours under Miri"
    )]
    fn a_second_blocking_open_of_the_same_place_reuses_the_store() {
        let s3 = [("aws_region", "us-east-1"), ("aws_skip_signature", "true")];
        let first = kept("s3://kept-bucket/a.amber", &s3);
        assert!(Arc::ptr_eq(&first, &kept("s3://kept-bucket/b/c.amber", &s3)));
        // Option order and the module's own options do not make another store.
        let reordered = [
            ("aws_skip_signature", "true"),
            ("amber_timeout", "5"),
            ("aws_region", "us-east-1"),
        ];
        assert!(Arc::ptr_eq(&first, &kept("s3://kept-bucket/a.amber", &reordered)));
        assert!(!Arc::ptr_eq(&first, &kept("s3://other-bucket/a.amber", &s3)));
        assert!(!Arc::ptr_eq(&first, &kept("s3://kept-bucket/a.amber", &s3[..1])));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "builds HTTP clients (TLS roots, ring's C code): hours under Miri"
    )]
    fn path_style_urls_keep_one_store_per_bucket() {
        let region = [("aws_region", "us-east-1"), ("aws_skip_signature", "true")];
        let a = kept("https://s3.us-east-1.amazonaws.com/bucket-a/x.amber", &region);
        let b = kept("https://s3.us-east-1.amazonaws.com/bucket-b/x.amber", &region);
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(
            &a,
            &kept("https://s3.us-east-1.amazonaws.com/bucket-a/y/z.amber", &region)
        ));
        let http = [("allow_http", "true")];
        let first = kept("http://127.0.0.1:9/a/b.amber", &http);
        assert!(Arc::ptr_eq(&first, &kept("http://127.0.0.1:9/c.amber", &http)));
        assert!(!Arc::ptr_eq(&first, &kept("http://127.0.0.1:10/c.amber", &http)));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "builds HTTP clients (TLS roots, ring's C code): hours under Miri"
    )]
    fn in_memory_stores_and_failed_builds_are_not_kept() {
        assert!(!Arc::ptr_eq(&kept("memory:///a", &[]), &kept("memory:///a", &[])));
        let unknown = [("no_such_option", "1")];
        let options = unknown.iter().map(|&(k, v)| (k, v.to_owned()));
        let error = parse_url_kept("s3://kept-bucket/a.amber", options).err().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidOptions);
    }
}
