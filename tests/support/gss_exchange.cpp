// gss_exchange: one whole SASL GSSAPI exchange (RFC 4752) in one process, for
// tests/integration/gss_acceptor_test.py. It plays the client with MIT's
// gss_init_sec_context (the ticket from KRB5CCNAME, target <service>@<host>)
// against lib/krb5's GssLogin, then the security-layer exchange with the
// layer and authzid given.
//
//   gss_exchange --keytab FILE [--principal P] --target imap@mail.example.com
//                [--authzid A] [--layer N] [--after-acquire remove|garbage]
//                [--second-keytab FILE [--second-principal P]
//                 --second-target pop@mail.example.com]
//
// Prints "acceptor: <the credentials' principal_display()>", "principal:
// <p>" and "authzid: <a>" and exits 0 when the acceptor accepts; "refused:
// <reason>" and exits 1 when lib/krb5 refuses (the keytab, the context, or
// the layer reply); "client: <reason>" and exits 2 when the client side
// fails; 64 on usage errors.
//
// --after-acquire removes the keytab files (or overwrites them in place with
// bytes that are no keytab) once the credentials are acquired and before any
// token is accepted. --second-keytab acquires a second set of credentials in
// the same process (after the first) and, once the first exchange succeeded,
// runs a second one against them with --second-target, its lines prefixed
// "second ".

#include "lib/krb5/gss_acceptor.hpp"
#include "lib/krb5/security_layer.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <memory>
#include <string>
#include <string_view>

namespace krb5 = zmproxy::krb5;

namespace {

std::string status(OM_uint32 major, OM_uint32 minor) {
  std::string out;
  for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
    OM_uint32 more = 0;
    OM_uint32 ignored = 0;
    gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
    if (code != 0 &&
        !GSS_ERROR(gss_display_status(&ignored, code, type, gss_mech_krb5, &more, &buf))) {
      out +=
          (out.empty() ? "" : ": ") + std::string(static_cast<const char*>(buf.value), buf.length);
      gss_release_buffer(&ignored, &buf);
    }
  }
  return out;
}

int refused(const std::string& reason) {
  std::printf("refused: %s\n", reason.c_str());
  return 1;
}

class Client {
 public:
  ~Client() {
    OM_uint32 minor = 0;
    if (context_ != GSS_C_NO_CONTEXT) {
      gss_delete_sec_context(&minor, &context_, GSS_C_NO_BUFFER);
    }
    if (target_ != GSS_C_NO_NAME) {
      gss_release_name(&minor, &target_);
    }
  }

  bool import_target(const std::string& target, std::string& error) {
    OM_uint32 minor = 0;
    gss_buffer_desc text{target.size(), const_cast<char*>(target.data())};
    const OM_uint32 major = gss_import_name(&minor, &text, GSS_C_NT_HOSTBASED_SERVICE, &target_);
    if (GSS_ERROR(major)) {
      error = "import " + target + ": " + status(major, minor);
      return false;
    }
    return true;
  }

  // One gss_init_sec_context step; done is set when the client is complete.
  bool step(const std::string& input, std::string& output, bool& done, std::string& error) {
    OM_uint32 minor = 0;
    gss_buffer_desc in{input.size(), const_cast<char*>(input.data())};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    const OM_uint32 major = gss_init_sec_context(
        &minor, GSS_C_NO_CREDENTIAL, &context_, target_, gss_mech_krb5,
        GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG, 0, GSS_C_NO_CHANNEL_BINDINGS,
        input.empty() ? GSS_C_NO_BUFFER : &in, nullptr, &out, nullptr, nullptr);
    output.assign(static_cast<const char*>(out.value), out.length);
    OM_uint32 ignored = 0;
    gss_release_buffer(&ignored, &out);
    if (GSS_ERROR(major)) {
      error = "gss_init_sec_context: " + status(major, minor);
      return false;
    }
    done = (major & GSS_S_CONTINUE_NEEDED) == 0;
    return true;
  }

  bool unwrap(const std::string& wrapped, std::string& plain, std::string& error) {
    OM_uint32 minor = 0;
    gss_buffer_desc in{wrapped.size(), const_cast<char*>(wrapped.data())};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    const OM_uint32 major = gss_unwrap(&minor, context_, &in, &out, nullptr, nullptr);
    if (GSS_ERROR(major)) {
      error = "gss_unwrap: " + status(major, minor);
      return false;
    }
    plain.assign(static_cast<const char*>(out.value), out.length);
    gss_release_buffer(&minor, &out);
    return true;
  }

  bool wrap(const std::string& plain, std::string& wrapped, std::string& error) {
    OM_uint32 minor = 0;
    gss_buffer_desc in{plain.size(), const_cast<char*>(plain.data())};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    const OM_uint32 major = gss_wrap(&minor, context_, 0, GSS_C_QOP_DEFAULT, &in, nullptr, &out);
    if (GSS_ERROR(major)) {
      error = "gss_wrap: " + status(major, minor);
      return false;
    }
    wrapped.assign(static_cast<const char*>(out.value), out.length);
    gss_release_buffer(&minor, &out);
    return true;
  }

 private:
  gss_name_t target_ = GSS_C_NO_NAME;
  gss_ctx_id_t context_ = GSS_C_NO_CONTEXT;
};

// The context, the security layer and the result lines, against one set of
// credentials. `label` prefixes every line printed.
int exchange(const std::shared_ptr<const krb5::AcceptorCredentials>& credentials,
             const std::string& target,
             const std::string& authzid,
             unsigned layer,
             const std::string& label) {
  const auto refused = [&](const std::string& reason) {
    std::printf("%srefused: %s\n", label.c_str(), reason.c_str());
    return 1;
  };
  const auto client_failed = [&](const std::string& reason) {
    std::printf("%sclient: %s\n", label.c_str(), reason.c_str());
    return 2;
  };
  krb5::GssLogin login(credentials);
  Client client;
  std::string error;
  if (!client.import_target(target, error)) {
    return client_failed(error);
  }

  // The context: client token -> acceptor -> client, until both are done.
  std::string to_server, to_client;
  bool client_done = false;
  for (int round = 0; round < krb5::k_max_gss_steps + 1; ++round) {
    if (!client_done) {
      if (!client.step(to_client, to_server, client_done, error)) {
        return client_failed(error);
      }
    }
    if (login.complete()) {
      break;
    }
    const krb5::GssStep step = login.step(to_server);
    if (step.state == krb5::GssStepState::failed) {
      return refused(step.reason);
    }
    to_client = step.token;
    if (step.state == krb5::GssStepState::complete && (client_done || to_client.empty())) {
      if (!client_done && !client.step(to_client, to_server, client_done, error)) {
        return client_failed(error);
      }
      break;
    }
  }
  if (!login.complete() || !client_done) {
    return client_failed("the context did not complete on both sides");
  }

  // RFC 4752 section 3.1: the offer, the client's choice, the check.
  auto offer = login.wrapped_layer_offer();
  if (!offer) {
    return refused(offer.error().message);
  }
  std::string plain_offer;
  if (!client.unwrap(*offer, plain_offer, error)) {
    return client_failed(error);
  }
  if (plain_offer.size() != 4) {
    return client_failed("the server's offer is not 4 bytes");
  }
  std::string reply;
  if (!client.wrap(krb5::client_layer_reply(static_cast<std::uint8_t>(layer), 0, authzid), reply,
                   error)) {
    return client_failed(error);
  }
  auto accepted = login.accept_layer_reply(reply);
  if (!accepted) {
    return refused(accepted.error().message);
  }
  std::printf("%sacceptor: %s\n", label.c_str(), credentials->principal_display().c_str());
  std::printf(
      "%soffer: %02x %02x %02x %02x\n", label.c_str(), static_cast<unsigned char>(plain_offer[0]),
      static_cast<unsigned char>(plain_offer[1]), static_cast<unsigned char>(plain_offer[2]),
      static_cast<unsigned char>(plain_offer[3]));
  std::printf("%sprincipal: %s\n%sauthzid: %s\n", label.c_str(), login.client_principal().c_str(),
              label.c_str(), accepted->c_str());
  return 0;
}

// --after-acquire: the file gone, or the same file (same inode) holding no
// keytab.
bool spoil(const std::string& path, const std::string& how) {
  if (how == "remove") {
    return std::remove(path.c_str()) == 0;
  }
  std::FILE* file = std::fopen(path.c_str(), "r+b");
  if (file == nullptr) {
    return false;
  }
  static const char garbage[] = "this is no keytab any more\n";
  bool ok = std::fwrite(garbage, 1, sizeof garbage - 1, file) == sizeof garbage - 1;
  ok = std::fflush(file) == 0 && ok;
  return std::fclose(file) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string keytab, principal, target, authzid, after_acquire;
  std::string second_keytab, second_principal, second_target;
  unsigned layer = krb5::k_layer_none;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--keytab") {
      keytab = value;
    } else if (flag == "--principal") {
      principal = value;
    } else if (flag == "--target") {
      target = value;
    } else if (flag == "--authzid") {
      authzid = value;
    } else if (flag == "--layer") {
      layer = static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 0));
    } else if (flag == "--after-acquire") {
      after_acquire = value;
    } else if (flag == "--second-keytab") {
      second_keytab = value;
    } else if (flag == "--second-principal") {
      second_principal = value;
    } else if (flag == "--second-target") {
      second_target = value;
    } else {
      std::fprintf(stderr, "gss_exchange: unknown option %s\n", argv[i]);
      return 64;
    }
  }
  if (argc % 2 == 0 || keytab.empty() || target.empty() || layer > 0xff ||
      (!after_acquire.empty() && after_acquire != "remove" && after_acquire != "garbage") ||
      second_keytab.empty() != second_target.empty()) {
    std::fprintf(stderr,
                 "usage: gss_exchange --keytab FILE [--principal P] --target SERVICE@HOST "
                 "[--authzid A] [--layer N] [--after-acquire remove|garbage] "
                 "[--second-keytab FILE [--second-principal P] --second-target SERVICE@HOST]\n");
    return 64;
  }

  auto credentials = krb5::AcceptorCredentials::acquire(keytab, principal);
  if (!credentials) {
    return refused(credentials.error().message);
  }
  std::shared_ptr<const krb5::AcceptorCredentials> second;
  if (!second_keytab.empty()) {
    auto acquired = krb5::AcceptorCredentials::acquire(second_keytab, second_principal);
    if (!acquired) {
      return refused(acquired.error().message);
    }
    second = *acquired;
  }
  if (!after_acquire.empty()) {
    for (const std::string& file : {keytab, second_keytab}) {
      if (!file.empty() && !spoil(file, after_acquire)) {
        std::fprintf(stderr, "gss_exchange: cannot %s %s\n", after_acquire.c_str(), file.c_str());
        return 64;
      }
    }
  }
  const int rc = exchange(*credentials, target, authzid, layer, "");
  if (rc != 0 || !second) {
    return rc;
  }
  return exchange(second, second_target, authzid, layer, "second ");
}
