{
  "variables": {
    "has_ucx%": "<!(pkg-config --exists ucx && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "nixl_native",
      "sources": [
        "native/addon.cc",
        "native/memory.cc",
        "native/bench.cc",
        "native/tcp/engine.cc",
        "native/tcp/sha256.cc",
        "native/tcp/tcp_addon.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "native"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "conditions": [
        ["has_ucx==1", {
          "defines": ["NIXL_HAVE_UCX=1"],
          "sources": [
            "native/ucx/ucx_binding.cc",
            "native/ucx/ucx_engine.cc",
            "native/ucx/ucx_progress.cc"
          ],
          "cflags_cc": ["<!@(pkg-config --cflags ucx)"],
          "libraries": ["<!@(pkg-config --libs ucx)"]
        }]
      ]
    }
  ]
}
