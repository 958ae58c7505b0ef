#pragma once
// Password hashes as OpenLDAP and Dovecot read them: {SSHA512} = base64 of
// SHA-512(password || salt) || salt, with an 8-byte random salt.

#include <string>
#include <string_view>

namespace zmproxy::provisioning {

std::string hash_password(std::string_view password);
// Checks {SSHA512} hashes; false for anything else.
bool verify_password(std::string_view password, std::string_view hash);

// A random version 4 UUID in lower case, for zimbraId.
std::string random_uuid();

}  // namespace zmproxy::provisioning
