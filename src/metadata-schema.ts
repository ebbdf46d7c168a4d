/**
 * The protobuf schema of agent metadata (full and partial). `format_version`
 * changes whenever a peer of another version could not read it correctly;
 * loaders refuse any version but their own with MismatchError.
 */
export const METADATA_FORMAT_VERSION = 1;
/** "NXTS" as a little-endian fixed32: tells our blobs from other protobuf. */
export const METADATA_MAGIC = 0x5354584e;

export const METADATA_PROTO = `
syntax = "proto3";
package nixl_ts;

message BackendConnInfo {
  string backend = 1;
  bytes conn_info = 2;
}

message RegionMD {
  uint64 addr = 1;
  uint64 len = 2;
  uint64 dev_id = 3;
  bytes public_data = 4;
}

message MemSection {
  string backend = 1;
  uint32 mem_type = 2;
  repeated RegionMD regions = 3;
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
