//! The few protobuf messages we read, written by hand for `prost`'s derive (no `protoc` and no
//! build script): PaddlePaddle's `framework.proto` (proto2: `ProgramDesc` and the `TensorDesc`
//! inside every `.pdiparams` record) and `onnx.proto` (`ModelProto`). Only the fields the
//! matcher reads are declared; protobuf skips the others. Field numbers are those of the
//! upstream schemas. Repeated scalars decode whether a writer packed them (proto3, ONNX) or not
//! (proto2, Paddle), so the same struct serves both, and the test writers encode with them too.

#![allow(missing_docs)]

// ---- paddle/fluid/framework/framework.proto -------------------------------------------------

/// `VarType.Type` values we name (data types and the feed/fetch holders).
pub mod var_type {
    pub const BOOL: i32 = 0;
    pub const INT16: i32 = 1;
    pub const INT32: i32 = 2;
    pub const INT64: i32 = 3;
    pub const FP16: i32 = 4;
    pub const FP32: i32 = 5;
    pub const FP64: i32 = 6;
    pub const LOD_TENSOR: i32 = 7;
    pub const FEED_MINIBATCH: i32 = 9;
    pub const FETCH_LIST: i32 = 10;
    pub const UINT8: i32 = 20;
    pub const INT8: i32 = 21;
    pub const BF16: i32 = 22;
}

/// `OpDesc.AttrType` values we write (the reader looks at the value fields, not the tag).
pub mod attr_type {
    pub const INT: i32 = 0;
    pub const FLOAT: i32 = 1;
    pub const STRING: i32 = 2;
    pub const INTS: i32 = 3;
    pub const BOOLEAN: i32 = 6;
    pub const LONG: i32 = 9;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProgramDesc {
    #[prost(message, repeated, tag = "1")]
    pub blocks: Vec<BlockDesc>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlockDesc {
    #[prost(int32, optional, tag = "1")]
    pub idx: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub parent_idx: Option<i32>,
    #[prost(message, repeated, tag = "3")]
    pub vars: Vec<VarDesc>,
    #[prost(message, repeated, tag = "4")]
    pub ops: Vec<OpDesc>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VarDesc {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<VarType>,
    #[prost(bool, optional, tag = "3")]
    pub persistable: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VarType {
    #[prost(int32, optional, tag = "1")]
    pub r#type: Option<i32>,
    #[prost(message, optional, tag = "3")]
    pub lod_tensor: Option<LoDTensorDesc>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LoDTensorDesc {
    #[prost(message, optional, tag = "1")]
    pub tensor: Option<TensorDesc>,
    #[prost(int32, optional, tag = "2")]
    pub lod_level: Option<i32>,
}

/// `VarType.TensorDesc`: also the header of every tensor in a `.pdiparams` stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDesc {
    #[prost(int32, optional, tag = "1")]
    pub data_type: Option<i32>,
    #[prost(int64, repeated, packed = "false", tag = "2")]
    pub dims: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OpDesc {
    #[prost(message, repeated, tag = "1")]
    pub inputs: Vec<OpVar>,
    #[prost(message, repeated, tag = "2")]
    pub outputs: Vec<OpVar>,
    #[prost(string, optional, tag = "3")]
    pub r#type: Option<String>,
    #[prost(message, repeated, tag = "4")]
    pub attrs: Vec<OpAttr>,
}

/// `OpDesc.Var`: a named slot (`X`, `Filter`, ...) and the variables in it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpVar {
    #[prost(string, optional, tag = "1")]
    pub parameter: Option<String>,
    #[prost(string, repeated, tag = "2")]
    pub arguments: Vec<String>,
}

/// `OpDesc.Attr`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpAttr {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub r#type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub i: Option<i32>,
    #[prost(float, optional, tag = "4")]
    pub f: Option<f32>,
    #[prost(string, optional, tag = "5")]
    pub s: Option<String>,
    #[prost(int32, repeated, packed = "false", tag = "6")]
    pub ints: Vec<i32>,
    #[prost(float, repeated, packed = "false", tag = "7")]
    pub floats: Vec<f32>,
    #[prost(bool, optional, tag = "10")]
    pub b: Option<bool>,
    #[prost(int64, optional, tag = "13")]
    pub l: Option<i64>,
    #[prost(int64, repeated, packed = "false", tag = "15")]
    pub longs: Vec<i64>,
    #[prost(double, optional, tag = "19")]
    pub float64: Option<f64>,
}

// ---- onnx/onnx.proto -----------------------------------------------------------------------

/// `TensorProto.DataType` values we read.
pub mod onnx_type {
    pub const FLOAT: i32 = 1;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, optional, tag = "1")]
    pub ir_version: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub producer_name: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub producer_version: Option<String>,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetId>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetId {
    #[prost(string, optional, tag = "1")]
    pub domain: Option<String>,
    #[prost(int64, optional, tag = "2")]
    pub version: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub op_type: Option<String>,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, optional, tag = "7")]
    pub domain: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub s: Option<Vec<u8>>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
    #[prost(int32, optional, tag = "20")]
    pub r#type: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, optional, tag = "2")]
    pub data_type: Option<i32>,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// Also holds FLOAT16 values, one per element (the low 16 bits).
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, optional, tag = "8")]
    pub name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "9")]
    pub raw_data: Option<Vec<u8>>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntry>,
    /// 1 = EXTERNAL.
    #[prost(int32, optional, tag = "14")]
    pub data_location: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntry {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeTensor>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeTensor {
    #[prost(int32, optional, tag = "1")]
    pub elem_type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}
