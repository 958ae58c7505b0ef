#include "lib/krb5/gss_acceptor.hpp"

#include "lib/krb5/memory_keytab.hpp"
#include "lib/krb5/security_layer.hpp"

#include <fmt/format.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <utility>

namespace zmproxy::krb5 {

namespace {

// One line from gss_display_status: the mechanism's words when the GSS-API
// ones only say "Unspecified GSS failure", both otherwise.
std::string status_text(OM_uint32 major, OM_uint32 minor) {
  auto collect = [](OM_uint32 code, int type) {
    std::string out;
    OM_uint32 more = 0;
    for (int i = 0; i < 8; ++i) {
      OM_uint32 ignored = 0;
      gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
      if (GSS_ERROR(gss_display_status(&ignored, code, type, gss_mech_krb5, &more, &buf))) {
        break;
      }
      std::string piece(static_cast<const char*>(buf.value), buf.length);
      gss_release_buffer(&ignored, &buf);
      if (!piece.empty()) {
        out += out.empty() ? "" : "; ";
        out += piece;
      }
      if (more == 0) {
        break;
      }
    }
    return out;
  };
  std::string mech = minor != 0 ? collect(minor, GSS_C_MECH_CODE) : std::string{};
  std::string text;
  if (GSS_ROUTINE_ERROR(major) == GSS_S_FAILURE && !mech.empty()) {
    text = std::move(mech);
  } else {
    text = collect(major, GSS_C_GSS_CODE);
    if (!mech.empty()) {
      text += ": " + mech;
    }
  }
  // MIT's text names what the client put in its AP-REQ (the server
  // principal, realms), escaping only a few bytes: no control byte goes on,
  // and the line stays short.
  constexpr std::size_t k_max_status_text = 512;
  if (text.size() > k_max_status_text) {
    text.resize(k_max_status_text);
    text += "...";
  }
  for (char& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = '?';
    }
  }
  return text.empty() ? fmt::format("GSS-API major {:#x} minor {}", major, minor) : text;
}

gss_OID_set_desc krb5_mechs() {
  return gss_OID_set_desc{1, gss_mech_krb5};
}

std::string display_name(gss_name_t name) {
  OM_uint32 minor = 0;
  gss_buffer_desc buf = GSS_C_EMPTY_BUFFER;
  if (GSS_ERROR(gss_display_name(&minor, name, &buf, nullptr))) {
    return {};
  }
  std::string out(static_cast<const char*>(buf.value), buf.length);
  gss_release_buffer(&minor, &buf);
  return out;
}

// The principal a credential holds, in full ("imap/host@REALM"); "" when it
// names none.
std::string held_name(gss_cred_id_t cred) {
  OM_uint32 minor = 0;
  gss_name_t name = GSS_C_NO_NAME;
  if (GSS_ERROR(gss_inquire_cred(&minor, cred, &name, nullptr, nullptr, nullptr)) ||
      name == GSS_C_NO_NAME) {
    return {};
  }
  std::string out = display_name(name);
  gss_release_name(&minor, &name);
  return out;
}

}  // namespace

// -- AcceptorCredentials ------------------------------------------------------

// The credential reads its keys from `memory`, a copy of the keytab file made
// once by acquire(): no login opens the file. The credential holds its own
// reference to the MEMORY keytab (memory_keytab.hpp); it is released first,
// then `memory` drops the last one and the keys are freed.
struct AcceptorCredentials::Impl {
  std::string keytab;
  std::string principal;
  std::string principal_display;
  std::unique_ptr<MemoryKeytab> memory;
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;

  ~Impl() {
    if (cred != GSS_C_NO_CREDENTIAL) {
      OM_uint32 minor = 0;
      gss_release_cred(&minor, &cred);
    }
  }
};

AcceptorCredentials::AcceptorCredentials(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AcceptorCredentials::~AcceptorCredentials() = default;
const std::string& AcceptorCredentials::keytab() const noexcept {
  return impl_->keytab;
}
const std::string& AcceptorCredentials::principal() const noexcept {
  return impl_->principal;
}
const std::string& AcceptorCredentials::principal_display() const noexcept {
  return impl_->principal_display;
}

Result<std::shared_ptr<const AcceptorCredentials>> AcceptorCredentials::acquire(
    std::string keytab, std::string principal) {
  auto memory = MemoryKeytab::copy_file(keytab);
  if (!memory) {
    return tl::unexpected(std::move(memory).error());
  }
  auto impl = std::make_unique<Impl>();
  impl->memory = std::make_unique<MemoryKeytab>(std::move(*memory));
  impl->keytab = std::move(keytab);
  impl->principal = std::move(principal);

  OM_uint32 minor = 0;
  gss_name_t name = GSS_C_NO_NAME;
  if (!impl->principal.empty()) {
    gss_buffer_desc text{impl->principal.size(), impl->principal.data()};
    const OM_uint32 major = gss_import_name(&minor, &text, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
    if (GSS_ERROR(major)) {
      return fail(Errc::invalid_argument, fmt::format("service principal {}: {}", impl->principal,
                                                      status_text(major, minor)));
    }
  }
  gss_key_value_element_desc elements[] = {
      {"keytab", impl->memory->name().c_str()},
      {"rcache", "none:"},
  };
  const gss_key_value_set_desc store{2, elements};
  gss_OID_set_desc mechs = krb5_mechs();
  const OM_uint32 major = gss_acquire_cred_from(
      &minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT, &store, &impl->cred, nullptr, nullptr);
  if (name != GSS_C_NO_NAME) {
    OM_uint32 ignored = 0;
    gss_release_name(&ignored, &name);
  }
  if (GSS_ERROR(major)) {
    impl->cred = GSS_C_NO_CREDENTIAL;
    return fail(Errc::invalid_argument,
                fmt::format("keytab {}{}: {}", impl->keytab,
                            impl->principal.empty() ? "" : " for " + impl->principal,
                            status_text(major, minor)));
  }
  impl->principal_display =
      impl->principal.empty() ? std::string(k_any_principal_in_keytab) : held_name(impl->cred);
  if (impl->principal_display.empty()) {
    impl->principal_display = impl->principal;
  }
  return std::shared_ptr<const AcceptorCredentials>(new AcceptorCredentials(std::move(impl)));
}

// -- GssLogin -----------------------------------------------------------------

struct GssLogin::Impl {
  std::shared_ptr<const AcceptorCredentials> credentials;
  gss_ctx_id_t context = GSS_C_NO_CONTEXT;
  GssStepState state = GssStepState::continue_needed;
  int steps = 0;
  std::string principal;

  ~Impl() {
    if (context != GSS_C_NO_CONTEXT) {
      OM_uint32 minor = 0;
      gss_delete_sec_context(&minor, &context, GSS_C_NO_BUFFER);
    }
  }

  GssStep failed(std::string reason) {
    state = GssStepState::failed;
    return GssStep{GssStepState::failed, {}, std::move(reason)};
  }
};

GssLogin::GssLogin(std::shared_ptr<const AcceptorCredentials> credentials)
    : impl_(std::make_unique<Impl>()) {
  impl_->credentials = std::move(credentials);
}
GssLogin::~GssLogin() = default;

bool GssLogin::complete() const noexcept {
  return impl_->state == GssStepState::complete;
}
const std::string& GssLogin::client_principal() const noexcept {
  return impl_->principal;
}

GssStep GssLogin::step(std::string_view token) {
  Impl& s = *impl_;
  if (s.state != GssStepState::continue_needed) {
    return s.failed("GSSAPI token after the context was settled");
  }
  if (!s.credentials) {
    return s.failed("GSSAPI: no acceptor credentials");
  }
  if (token.size() > k_max_gss_token) {
    return s.failed(
        fmt::format("GSSAPI token of {} bytes, more than {}", token.size(), k_max_gss_token));
  }
  if (++s.steps > k_max_gss_steps) {
    return s.failed(fmt::format("GSSAPI context not settled in {} steps", k_max_gss_steps));
  }
  gss_buffer_desc input{token.size(), const_cast<char*>(token.data())};
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  gss_name_t source = GSS_C_NO_NAME;
  gss_OID mech = GSS_C_NO_OID;
  OM_uint32 minor = 0;
  const OM_uint32 major = gss_accept_sec_context(&minor, &s.context, s.credentials->impl_->cred,
                                                 &input, GSS_C_NO_CHANNEL_BINDINGS, &source, &mech,
                                                 &output, nullptr, nullptr, nullptr);
  GssStep result;
  OM_uint32 ignored = 0;
  if (output.length != 0) {
    result.token.assign(static_cast<const char*>(output.value), output.length);
  }
  gss_release_buffer(&ignored, &output);
  if (GSS_ERROR(major)) {
    if (source != GSS_C_NO_NAME) {
      gss_release_name(&ignored, &source);
    }
    GssStep refused = s.failed("GSSAPI context refused: " + status_text(major, minor));
    refused.token = std::move(result.token);  // an error token the client may read
    return refused;
  }
  if ((major & GSS_S_CONTINUE_NEEDED) != 0) {
    if (source != GSS_C_NO_NAME) {
      gss_release_name(&ignored, &source);
    }
    result.state = GssStepState::continue_needed;
    return result;
  }
  const bool kerberos = mech != GSS_C_NO_OID && gss_oid_equal(mech, gss_mech_krb5) != 0;
  s.principal = kerberos ? display_name(source) : std::string{};
  if (source != GSS_C_NO_NAME) {
    gss_release_name(&ignored, &source);
  }
  if (!kerberos) {
    return s.failed("GSSAPI context refused: not the Kerberos 5 mechanism");
  }
  if (s.principal.empty()) {
    return s.failed("GSSAPI context refused: the client principal has no name");
  }
  s.state = GssStepState::complete;
  result.state = GssStepState::complete;
  return result;
}

Result<std::string> GssLogin::wrapped_layer_offer() {
  Impl& s = *impl_;
  if (s.state != GssStepState::complete) {
    return fail(Errc::invalid_argument,
                "GSSAPI security layer offer before the context is complete");
  }
  std::string offer = server_layer_offer();
  gss_buffer_desc input{offer.size(), offer.data()};
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  OM_uint32 minor = 0;
  const OM_uint32 major =
      gss_wrap(&minor, s.context, 0, GSS_C_QOP_DEFAULT, &input, nullptr, &output);
  if (GSS_ERROR(major)) {
    return fail(Errc::internal,
                "GSSAPI cannot wrap the security layer offer: " + status_text(major, minor));
  }
  std::string out(static_cast<const char*>(output.value), output.length);
  OM_uint32 ignored = 0;
  gss_release_buffer(&ignored, &output);
  return out;
}

Result<std::string> GssLogin::accept_layer_reply(std::string_view wrapped) {
  Impl& s = *impl_;
  if (s.state != GssStepState::complete) {
    return fail(Errc::invalid_argument,
                "GSSAPI security layer reply before the context is complete");
  }
  if (wrapped.size() > k_max_gss_token) {
    return fail(Errc::invalid_argument,
                fmt::format("GSSAPI security layer reply of {} bytes, more than {}", wrapped.size(),
                            k_max_gss_token));
  }
  gss_buffer_desc input{wrapped.size(), const_cast<char*>(wrapped.data())};
  gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
  OM_uint32 minor = 0;
  const OM_uint32 major = gss_unwrap(&minor, s.context, &input, &output, nullptr, nullptr);
  if (GSS_ERROR(major)) {
    return fail(Errc::invalid_argument,
                "GSSAPI security layer reply does not unwrap: " + status_text(major, minor));
  }
  std::string plain(static_cast<const char*>(output.value), output.length);
  OM_uint32 ignored = 0;
  gss_release_buffer(&ignored, &output);
  return parse_client_layer_reply(plain);
}

}  // namespace zmproxy::krb5
