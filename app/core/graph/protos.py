"""TensorFlow's protobuf messages without importing TensorFlow.

``import tensorflow`` costs seconds; reading a checkpoint for display needs only
a handful of its messages. TensorBoard keeps a maintained copy of TensorFlow's
graph protos (``tensorboard.compat.proto``, package ``tensorboard``) that
imports in a few hundredths of a second, so the graph is parsed with those.

Three messages TensorBoard does not carry are declared here as descriptors and
turned into classes by protobuf's own ``message_factory`` (no hand-written
parsing): ``SavedModel`` (a version plus repeated ``MetaGraphDef``), the
tensor-bundle header and entry of a ``.index`` file, and ``CheckpointState`` (the
``checkpoint`` text file). Field numbers and names are TensorFlow's, so the wire
and text formats are the same.

Where TensorFlow needs its own ``MetaGraphDef`` class (export), convert at that
boundary with `to_tensorflow_meta_graph`.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tensorboard.compat.proto import meta_graph_pb2, tensor_shape_pb2, types_pb2, versions_pb2
from tensorboard.compat.proto import variable_pb2 as _variable_pb2

MetaGraphDef = meta_graph_pb2.MetaGraphDef
VariableDef = _variable_pb2.VariableDef

_FILE = "signet/core/tensorflow_extra.proto"
_PACKAGE = "signet"
_F = descriptor_pb2.FieldDescriptorProto


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: int,
           repeated: bool = False, type_name: str = "") -> None:
    field = message.field.add(name=name, number=number, type=kind,
                              label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
    if type_name:
        field.type_name = type_name


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """TensorFlow's ``saved_model.proto``, ``tensor_bundle.proto`` (header and entry, the
    fields Signet reads plus the rest so nothing is dropped) and ``checkpoint_state.proto``."""
    proto = descriptor_pb2.FileDescriptorProto(name=_FILE, package=_PACKAGE, syntax="proto3")
    proto.dependency.extend([meta_graph_pb2.DESCRIPTOR.name, tensor_shape_pb2.DESCRIPTOR.name,
                             types_pb2.DESCRIPTOR.name, versions_pb2.DESCRIPTOR.name])

    saved = proto.message_type.add(name="SavedModel")
    _field(saved, "saved_model_schema_version", 1, _F.TYPE_INT64)
    _field(saved, "meta_graphs", 2, _F.TYPE_MESSAGE, repeated=True,
           type_name=".tensorboard.MetaGraphDef")

    header = proto.message_type.add(name="BundleHeaderProto")
    endianness = header.enum_type.add(name="Endianness")
    endianness.value.add(name="LITTLE", number=0)
    endianness.value.add(name="BIG", number=1)
    _field(header, "num_shards", 1, _F.TYPE_INT32)
    _field(header, "endianness", 2, _F.TYPE_ENUM,
           type_name=f".{_PACKAGE}.BundleHeaderProto.Endianness")
    _field(header, "version", 3, _F.TYPE_MESSAGE, type_name=".tensorboard.VersionDef")

    entry = proto.message_type.add(name="BundleEntryProto")
    _field(entry, "dtype", 1, _F.TYPE_ENUM, type_name=".tensorboard.DataType")
    _field(entry, "shape", 2, _F.TYPE_MESSAGE, type_name=".tensorboard.TensorShapeProto")
    _field(entry, "shard_id", 3, _F.TYPE_INT32)
    _field(entry, "offset", 4, _F.TYPE_INT64)
    _field(entry, "size", 5, _F.TYPE_INT64)
    _field(entry, "crc32c", 6, _F.TYPE_FIXED32)
    # Field 7 (repeated TensorSliceProto slices) is left out: Signet never reads it, and
    # protobuf keeps unknown fields, so a parsed entry loses nothing.

    state = proto.message_type.add(name="CheckpointState")
    _field(state, "model_checkpoint_path", 1, _F.TYPE_STRING)
    _field(state, "all_model_checkpoint_paths", 2, _F.TYPE_STRING, repeated=True)
    _field(state, "all_model_checkpoint_timestamps", 3, _F.TYPE_DOUBLE, repeated=True)
    _field(state, "last_preserved_timestamp", 4, _F.TYPE_DOUBLE)
    return proto


def _classes() -> dict[str, Any]:
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindFileByName(_FILE)
    except KeyError:
        descriptor = pool.AddSerializedFile(_file_descriptor().SerializeToString())
    return {name: message_factory.GetMessageClass(descriptor.message_types_by_name[name])
            for name in descriptor.message_types_by_name}


_CLASSES = _classes()
SavedModel = _CLASSES["SavedModel"]
BundleHeaderProto = _CLASSES["BundleHeaderProto"]
BundleEntryProto = _CLASSES["BundleEntryProto"]
CheckpointState = _CLASSES["CheckpointState"]


def to_tensorflow_meta_graph(meta: Any) -> Any:
    """The same ``MetaGraphDef`` as TensorFlow's own class (what its import functions take)."""
    from app.core.tf_runtime import tensorflow

    tensorflow()
    from tensorflow.core.protobuf import meta_graph_pb2 as tf_meta_graph_pb2

    if isinstance(meta, tf_meta_graph_pb2.MetaGraphDef):
        return meta
    converted = tf_meta_graph_pb2.MetaGraphDef()
    converted.ParseFromString(meta.SerializeToString())
    return converted
