{
  "variables": {
    "has_ucx%": "<!(pkg-config --exists ucx && echo 1 || echo 0)",
    "has_uring%": "<!(pkg-config --exists liburing && echo 1 || echo 0)"
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
        "native/common/status_slots.cc",
        "native/common/completion_batch.cc",
        "native/common/teardown_guard.cc",
        "native/common/crypto.cc",
        "native/memory.cc",
        "native/tcp/engine.cc",
        "native/tcp/posting.cc",
        "native/tcp/connections.cc",
        "native/tcp/receiving.cc",
        "native/tcp/read_in_place.cc",
        "native/tcp/handshake.cc",
        "native/tcp/initiating.cc",
        "native/tcp/vm_copy.cc",
        "native/tcp/shared_mem.cc",
        "native/tcp/shared_cpu_regime.cc",
        "native/tcp/binding.cc"
      ]
    },
    {
      # The FILE engine (io_uring, or a thread pool where io_uring is missing),
      # its own addon so that only processes with a FILE backend load liburing.
      "target_name": "nixl_file",
      "sources": [
        "native/common/js_call.cc",
        "native/common/status_slots.cc",
        "native/common/completion_batch.cc",
        "native/common/teardown_guard.cc",
        "native/file/engine.cc",
        "native/file/uring_runner.cc",
        "native/file/pool_runner.cc",
        "native/file/binding.cc"
      ],
      "conditions": [
        ["has_uring==1", {
          "defines": ["NIXL_HAVE_URING"],
          "libraries": ["<!@(pkg-config --libs liburing)"]
        }]
      ]
    },
    {
      # CUDA (VRAM): the driver is opened at run time with dlopen, so this
      # builds and loads on machines without CUDA; see native/cuda/README.md.
      "target_name": "nixl_cuda",
      "sources": ["native/cuda/driver.cc", "native/cuda/binding.cc"],
      "libraries": ["-ldl"]
    },
    {
      # Benchmark-only C++ (the memcpy baseline), kept out of the product addon.
      "target_name": "nixl_bench",
      "sources": ["native/bench/memcpy_bench.cc"]
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
            "native/ucx/addon.cc",
            "native/common/js_call.cc",
            "native/common/status_slots.cc",
            "native/common/completion_batch.cc",
            "native/common/teardown_guard.cc",
            "native/common/crypto.cc",
            "native/ucx/am_auth.cc",
            "native/ucx/binding.cc",
            "native/ucx/engine.cc",
            "native/ucx/progress.cc",
            "native/ucx/process_watch.cc",
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
