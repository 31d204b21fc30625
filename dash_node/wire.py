"""The protobuf wire format where the generated classes fall short.

Naming the field behind a request that protobuf refuses to parse: Python protobuf rejects a message
whose string field holds invalid UTF-8 without saying which field. This walks the raw wire format
against the message descriptor and returns the first offending path (``item.claim.claim_id``), so a
client gets INVALID_ARGUMENT naming the field instead of an opaque deserialization failure.

Writing answers already partly encoded: a retrieval's results are kept and assembled as bytes, and a
message field is its tag, its length and those bytes, so an answer can be written without parsing its
parts into messages only to encode them again.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf import message, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

# The metadata key of the cluster credential that node-to-node and router-to-node calls carry.
CLUSTER_TOKEN_HEADER = "x-dash-cluster-token"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def varint(n: int) -> bytes:
    """``n`` (>= 0) as a protobuf varint."""
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def message_field(number: int, encoded: bytes) -> bytes:
    """An embedded message (or bytes) field: tag, length, then ``encoded`` as it is. Concatenated
    encodings of one message merge, and a repeated field's entries keep their order."""
    return varint(number << 3 | 2) + varint(len(encoded)) + encoded


def encoded(answer) -> bytes:
    """An answer on the wire; one already encoded goes as it is (a gRPC response serializer)."""
    return answer if isinstance(answer, bytes) else answer.SerializeToString()


def find_bad_field(desc: Descriptor, data: bytes, path: str = "", depth: int = 0) -> str | None:
    """The dotted path of the first string field that is not UTF-8, or of the first malformed part."""
    pos = 0
    while pos < len(data):
        try:
            tag, pos = _varint(data, pos)
            number, wire_type = tag >> 3, tag & 7
            fd = desc.fields_by_number.get(number)
            name = (
                f"{path}.{fd.name}" if fd and path else (fd.name if fd else f"{path or 'request'}#{number}")
            )
            if wire_type == 0:
                _, pos = _varint(data, pos)
            elif wire_type == 1:
                pos += 8
            elif wire_type == 5:
                pos += 4
            elif wire_type == 2:
                size, pos = _varint(data, pos)
                chunk = data[pos : pos + size]
                if len(chunk) != size:
                    return name
                pos += size
                if fd is None:
                    continue
                if fd.type == FieldDescriptor.TYPE_STRING:
                    chunk.decode("utf-8")
                elif fd.type == FieldDescriptor.TYPE_MESSAGE and depth < 32:
                    inner = find_bad_field(fd.message_type, chunk, name, depth + 1)
                    if inner:
                        return inner
            else:
                return name
        except UnicodeDecodeError:
            return name
        except ValueError:
            return path or "request"
        if pos > len(data):
            return path or "request"
    return None


class Undecodable:
    """Stands in for a request protobuf could not parse, carrying the field to blame."""

    def __init__(self, field: str) -> None:
        self.field = field


def lenient_decoder(desc: Descriptor) -> Callable[[bytes], object]:
    """A gRPC request deserializer that returns ``Undecodable`` instead of raising, so the handler can
    answer INVALID_ARGUMENT naming the field."""
    cls = message_factory.GetMessageClass(desc)

    def decode(raw: bytes):
        try:
            return cls.FromString(raw)
        except message.DecodeError:
            return Undecodable(find_bad_field(desc, raw) or "request")

    return decode
