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
export const METADATA_FORMAT_VERSION = 2;
/** "NXTS" as a little-endian fixed32: tells our blobs from other protobuf. */
export const METADATA_MAGIC = 0x5354584e;

export const METADATA_PROTO = `
syntax = "proto3";
package nixl_ts;

message BackendConnInfo {
  string backend = 1;
  bytes conn_info = 2;
}

message MemSection {
  string backend = 1;
  uint32 mem_type = 2;
  reserved 3; // version 1: repeated RegionMD regions
  // Regions listed, in the order of every column below.
  uint32 count = 4;
  // count varints each: address, length, device id (all below 2^53),
  // and the byte length of each region's public data.
  bytes addrs = 5;
  bytes lens = 6;
  bytes dev_ids = 7;
  bytes public_data_lens = 8;
  // Every region's public data, concatenated in order.
  bytes public_data = 9;
}

message AgentMetadata {
  fixed32 magic = 1;
  uint32 format_version = 2;
  string agent_name = 3;
  bytes agent_id = 4;
  string host_id = 5;
  bool partial = 6;
  repeated BackendConnInfo conns = 7;
  repeated MemSection sections = 8;
  map<string, bytes> labels = 9;
}
`;
