{
  "variables": {
    "has_ucx%": "<!(pkg-config --exists ucx && echo 1 || echo 0)"
  },
  "target_defaults": {
    "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "native"],
    "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "cflags_cc": ["-std=c++20", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    {
      "target_name": "nixl_native",
      "sources": [
        "native/addon.cc",
        "native/common/js_call.cc",
        "native/common/teardown_guard.cc",
        "native/common/crypto.cc",
        "native/memory.cc",
        "native/bench.cc",
        "native/tcp/engine.cc",
        "native/tcp/vm_copy.cc",
        "native/tcp/tcp_addon.cc"
      ]
    }
  ],
  "conditions": [
    ["has_ucx==1", {
      "targets": [
        {
          # UCX lives in its own addon: loading UCX has process-wide effects
          # (libucm's memory hooks), so only processes that create a UCX backend load it.
          "target_name": "nixl_ucx",
          "sources": [
            "native/ucx/ucx_addon.cc",
            "native/common/js_call.cc",
            "native/common/teardown_guard.cc",
            "native/ucx/ucx_binding.cc",
            "native/ucx/ucx_engine.cc",
            "native/ucx/ucx_progress.cc",
            "native/ucx/ucx_process_watch.cc",
            "native/ucx/process_identity.cc"
          ],
          "cflags_cc": ["<!@(pkg-config --cflags ucx)"],
          "libraries": ["<!@(pkg-config --libs ucx)"]
        },
        {
          # Loaded just before nixl_ucx: initializes libucm alone, with memory
          # events off, so that libucs's constructor does not run UCX's
          # heap-shrinking hook self-test (see native/ucx/ucm_preload.cc).
          "target_name": "nixl_ucm_preload",
          "sources": ["native/ucx/ucm_preload.cc"],
          "cflags_cc": ["<!@(pkg-config --cflags ucx)"],
          "libraries": ["-lucm"]
        }
      ]
    }]
  ]
}
