#include "common/js_call.h"

#include <vector>

namespace nixl {

void CallQuietly(napi_env env, napi_value fn, std::initializer_list<napi_value> args) {
  napi_value recv = nullptr;
  if (napi_get_undefined(env, &recv) != napi_ok) return;
  std::vector<napi_value> argv(args);
  napi_value result = nullptr;
  // A failure either left the callback's exception pending (Node reports it)
  // or means the environment cannot run JavaScript any more: nothing to do in
  // either case.
  (void)napi_call_function(env, recv, fn, argv.size(), argv.data(), &result);
}

}  // namespace nixl
