#include "lib/provisioning/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "lib/core/base64.hpp"

namespace zmproxy::provisioning {

namespace {

constexpr std::string_view k_scheme = "{SSHA512}";
constexpr std::size_t k_digest = 64;
constexpr std::size_t k_salt = 8;

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("the system random generator failed");
  }
  return out;
}

std::string sha512(std::string_view a, std::string_view b) {
  std::array<unsigned char, k_digest> md{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
                  EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, md.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    throw std::runtime_error("SHA-512 failed");
  }
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

}  // namespace

std::string hash_password(std::string_view password) {
  const std::string salt = random_bytes(k_salt);
  return std::string(k_scheme) + core::base64_encode(sha512(password, salt) + salt);
}

bool verify_password(std::string_view password, std::string_view hash) {
  if (hash.substr(0, k_scheme.size()) != k_scheme) {
    return false;
  }
  const auto raw = core::base64_decode(hash.substr(k_scheme.size()));
  if (!raw || raw->size() <= k_digest) {
    return false;
  }
  const std::string expected = sha512(password, std::string_view(*raw).substr(k_digest));
  return CRYPTO_memcmp(expected.data(), raw->data(), k_digest) == 0;
}

std::string random_uuid() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0f) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3f) | 0x80);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    const auto c = static_cast<unsigned char>(b[i]);
    out += k_hex[c >> 4];
    out += k_hex[c & 15];
  }
  return out;
}

}  // namespace zmproxy::provisioning
