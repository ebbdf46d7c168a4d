/**
 * The protobuf schema of agent metadata (full and partial). `format_version`
 * changes whenever a peer of another version could not read it correctly;
 * loaders refuse any version but their own with MismatchError.
 *
 * Version 2 (version 1 sent one RegionMD message per region, field 3 of
 * MemSection) packs a section's regions column-wise: `count`, then one
 * column per field. The varint columns are `bytes` here and decoded by
 * src/metadata.ts, but they are wire-identical to protobuf's packed
 * `repeated uint64 ... [packed = true]`, so other readers may declare them
 * that way. New field numbers (3 stays reserved) let a version-1 reader skip
 * them and refuse the blob by its version, not as garbage.
 */
import { readProto } from './proto.js';

export const METADATA_FORMAT_VERSION = 2;
/** "NXTS" as a little-endian fixed32: tells our blobs from other protobuf. */
export const METADATA_MAGIC = 0x5354584e;

/** The schema's text: proto/metadata.proto, the wire format's source. */
export const METADATA_PROTO = readProto('metadata.proto');
