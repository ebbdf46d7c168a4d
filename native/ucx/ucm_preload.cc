// nixl_ucm_preload.node: loaded just before nixl_ucx.node, it initializes
// libucm with memory events off, then puts UCX's own options back.
//
// Why. When libucs loads, its constructor (ucs_init -> ucs_init_ucm_opts ->
// ucm_set_global_opts -> ucm_library_init -> ucm_mmap_init, UCX 1.13
// src/ucm/mmap/install.c) patches mmap/munmap/brk/sbrk in libc and tests the
// patches with sbrk(+page) then sbrk(-page) (ucm_fire_mmap_events_internal,
// its "exclusive" branch). When another mapping sits right above the heap's
// break (V8 maps its pages at hinted addresses, now and then right there), the
// first call fails and the second still shrinks the heap by a page: live
// malloc memory at the top of the heap is unmapped, and the process faults
// later wherever it touches it (seen in V8's Heap::CallGCPrologueCallbacks).
// ucm_library_init runs once per process, so running it first with events
// off skips that test; libucs's constructor then only stores its options.
// Memory hooks are still installed later if a UCX component asks for memory
// events (a registration cache), without that page-shrinking test.
#include <napi.h>
#include <ucm/api/ucm.h>

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ucm_global_config_t original = ucm_global_opts;
  ucm_global_config_t quiet = original;
  quiet.enable_events = 0;
  ucm_set_global_opts(&quiet);     // the one ucm_library_init, without hooks
  ucm_set_global_opts(&original);  // UCX's own options again (init is done)
  exports.Set("ucmInitialized", Napi::Boolean::New(env, true));
  return exports;
}

}  // namespace

NODE_API_MODULE(nixl_ucm_preload, Init)
