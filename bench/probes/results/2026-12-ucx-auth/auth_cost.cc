// What UCX message authentication (native/ucx/am_auth.h) costs per message,
// in isolation: the four MACs of a WRITE with an acknowledged notification
// (sender tags it, target verifies it and tags its ack, initiator checks the
// ack), and the per-endpoint HELLO (sender makes it, target opens it).
// Against the system's OpenSSL 3 (the addon uses Node's, also 3.0):
//   g++ -O2 -std=c++20 -Inative bench/probes/results/2026-12-ucx-auth/auth_cost.cc \
//     native/ucx/am_auth.cc native/common/crypto.cc -lcrypto -o /tmp/auth_cost && /tmp/auth_cost
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ucx/am_auth.h"
#include "ucx/wire.h"

using namespace nixl::ucx;

template <typename F>
double NsPer(int n, F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) f();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}

int main() {
  const std::string sender = "bench-initiator-12345", target = "bench-target-12345";
  AgentKeys sk = AgentKeys::Generate(), tk = AgentKeys::Generate();
  AmAuthority authority(target, tk);
  SendSession s;
  std::vector<uint8_t> hello = MakeHello(sk, sender, tk.exchangePublic, &s);
  authority.OnHello(hello.data(), hello.size());
  for (size_t bodyLen : {size_t(9), size_t(4096)}) {
    std::vector<uint8_t> body(bodyLen, 'n'), header, ackHeader;
    const int n = 200000;
    double tag = 0, verify = 0, check = 0;
    for (int rep = 0; rep < 3; ++rep) {
      tag +=
          NsPer(n,
                [&] {
                  TagHeader(kAmNotifAcked, &s, sender, target, body.data(), body.size(), &header);
                }) /
          3;
      // Verify needs fresh sequence numbers: tag then verify (and tag the
      // ack, as the target does), less the tag.
      Reply reply{kAmNotifAck, body.data(), 8, &ackHeader};
      verify +=
          (NsPer(n,
                 [&] {
                   TagHeader(kAmNotifAcked, &s, sender, target, body.data(), body.size(), &header);
                   std::string_view from;
                   if (!authority.Verify(kAmNotifAcked, header.data(), header.size(), body.data(),
                                         body.size(), &from, &reply)) {
                     std::abort();
                   }
                 }) -
           tag) /
          3;
      AmTag t;
      std::string_view from;
      ParseHeader(ackHeader.data(), ackHeader.size(), &t, &from);
      check += NsPer(n,
                     [&] {
                       if (!CheckMac(kAmNotifAck, s.mac, t, from, sender, body.data(), 8))
                         std::abort();
                     }) /
               3;
    }
    std::printf(
        "body %zu B: sender tag %.0f ns, target verify + ack tag %.0f ns, initiator ack check "
        "%.0f ns; sum %.2f us per notification\n",
        bodyLen, tag, verify, check, (tag + verify + check) / 1000);
  }
  const int m = 2000;
  double make = NsPer(m, [&] {
    SendSession x;
    MakeHello(sk, sender, tk.exchangePublic, &x);
  });
  double open = NsPer(m, [&] { authority.OnHello(hello.data(), hello.size()); });
  std::printf("HELLO (once per endpoint): make %.1f us, open %.1f us\n", make / 1000, open / 1000);
}
