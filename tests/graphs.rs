//! Graphs and values: an owned `Value` tree round-trips through a file, `to_value` refuses
//! cycles and keeps to its depth limit, and invalid graphs are refused as `InvalidGraph`.

use amber_test_support::{error_class, fixtures::dangling_node_id};
use amberfile::{ArrayId, Graph, Limits, Node, Order, ReadOptions, Reader, Value, WriteOptions, Writer};

fn sample_value() -> Value {
    Value::Map(vec![
        (Value::Str("coef_".into()), Value::Array(first_array_id())),
        (
            Value::Int(7),
            Value::Object {
                type_name: "sklearn.tree._tree.Tree".into(),
                args: Some(Box::new(Value::Tuple(vec![
                    Value::Int(4),
                    Value::from_i128(1 << 80),
                ]))),
                state: Some(Box::new(Value::Map(vec![
                    (Value::Str("max_depth".into()), Value::None),
                    (Value::Bool(true), Value::Float(-0.25)),
                    (Value::Complex(1.0, -2.0), Value::Bytes(vec![0, 255])),
                ]))),
            },
        ),
        (
            Value::Tuple(vec![Value::Str("ключ".into()), Value::Int(-1)]),
            Value::List(vec![
                Value::Set(vec![Value::Int(1)]),
                Value::FrozenSet(vec![]),
                Value::Global("numpy.float64".into()),
                Value::ObjectArray {
                    order: Order::F,
                    shape: vec![2, 1],
                    items: vec![Value::None, Value::Str("🦀".into())],
                },
                Value::from_i128(-(1 << 70)),
            ]),
        ),
    ])
}

/// The id of the first array of a file, obtained the only way users can: from a writer.
fn first_array_id() -> ArrayId {
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    writer.write_ndarray(&ndarray::arr1(&[0u8])).unwrap()
}

#[test]
fn values_round_trip_through_a_file() {
    let value = sample_value();
    let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    writer.write_ndarray(&ndarray::arr1(&[1.0f32, 2.0])).unwrap();
    let bytes = writer.finish(&Graph::from_value(&value)).unwrap();
    let reader = Reader::from_bytes(&bytes, ReadOptions::default()).unwrap();
    let back = reader
        .graph()
        .to_value(reader.root(), &Limits::default())
        .unwrap();
    assert_eq!(back, value);
}

#[test]
fn to_value_rejects_cycles_and_respects_the_depth_limit() {
    let mut graph = Graph::new();
    let list = graph.reserve();
    let map_key = graph.add(Node::Str("self"));
    let map = graph.add(Node::Map(&[[map_key, list]]));
    graph.set(list, Node::List(&[map]));
    assert_eq!(
        error_class(graph.to_value(list, &Limits::default())),
        "InvalidGraph"
    );

    // 300 nested lists: deeper than the default limit of 256.
    let mut value = Value::None;
    for _ in 0..299 {
        value = Value::List(vec![value]);
    }
    let graph = Graph::from_value(&value);
    let root = graph.root().unwrap();
    assert_eq!(
        error_class(graph.to_value(root, &Limits::default())),
        "LimitExceeded"
    );
    let deep_enough = Limits {
        max_value_depth: 300,
        ..Limits::default()
    };
    assert_eq!(graph.to_value(root, &deep_enough).unwrap(), value);
}

#[test]
fn invalid_graphs_are_refused_with_invalid_graph() {
    let finish = |graph: &Graph| {
        let mut writer = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
        writer.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
        writer.finish(graph).map(drop)
    };

    let mut dangling = Graph::new();
    let root = dangling.add(Node::Tuple(&[dangling_node_id()]));
    dangling.set_root(root);

    let mut missing_array = Graph::new();
    let mut two_arrays = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    two_arrays.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
    let second = two_arrays.write_ndarray(&ndarray::arr1(&[0u8])).unwrap();
    let root = missing_array.add(Node::Array(second));
    missing_array.set_root(root);

    let mut no_root = Graph::new();
    no_root.add(Node::None);

    let mut bad_object_array = Graph::new();
    let item = bad_object_array.add(Node::None);
    let root = bad_object_array.add(Node::ObjectArray {
        order: Order::C,
        shape: &[2, 2],
        items: &[item, item, item],
    });
    bad_object_array.set_root(root);

    let mut bad_big_int = Graph::new();
    let root = bad_big_int.add(Node::BigInt(&[5, 0, 0, 0, 0, 0, 0, 0, 0]));
    bad_big_int.set_root(root);

    for graph in [dangling, missing_array, no_root, bad_object_array, bad_big_int] {
        assert_eq!(error_class(graph.validate(1)), "InvalidGraph");
        assert_eq!(error_class(finish(&graph)), "InvalidGraph");
    }
}
