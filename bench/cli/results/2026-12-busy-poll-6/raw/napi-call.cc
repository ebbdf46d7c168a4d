#include <napi.h>
struct E { uint32_t n = 0; bool Post(uint32_t a, uint32_t b) { n += a + b; return (n & 1); } };
class W : public Napi::ObjectWrap<W> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "W", {InstanceMethod("post", &W::Post)});
  }
  W(const Napi::CallbackInfo& info) : Napi::ObjectWrap<W>(info) {
    // A plain function whose data is the engine: no unwrap per call.
    Napi::Function f = Napi::Function::New(info.Env(), &W::PostFast, "postFast", &e_);
    info.This().As<Napi::Object>().Set("postFast", f);
  }
  Napi::Value Post(const Napi::CallbackInfo& info) {
    uint32_t a = info[0].As<Napi::Number>().Uint32Value();
    uint32_t b = info[1].As<Napi::Number>().Uint32Value();
    return Napi::Boolean::New(info.Env(), e_.Post(a, b));
  }
  static Napi::Value PostFast(const Napi::CallbackInfo& info) {
    E* e = static_cast<E*>(info.Data());
    uint32_t a = info[0].As<Napi::Number>().Uint32Value();
    uint32_t b = info[1].As<Napi::Number>().Uint32Value();
    return Napi::Boolean::New(info.Env(), e->Post(a, b));
  }
  E e_;
};
Napi::Object Init(Napi::Env env, Napi::Object exports) { exports.Set("W", W::Init(env)); return exports; }
NODE_API_MODULE(t, Init)
