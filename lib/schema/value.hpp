#pragma once
// Validation of attribute values by type. Pure.

#include "lib/core/result.hpp"
#include "lib/schema/registry.hpp"

#include <string>
#include <string_view>

namespace zmproxy::schema {

// Check one value; on success return its canonical form (booleans as TRUE or
// FALSE, enum values in their registry spelling, other values unchanged). The
// error is one line that names the attribute and what is accepted.
Result<std::string> normalize_value(const Attribute& attr, std::string_view value);

// One phrase that says what the attribute accepts, e.g. "a port 0..65535".
std::string accepted_values(const Attribute& attr);

// A canonical boolean value read leniently (TRUE/true/1/yes).
bool is_true(std::string_view value) noexcept;

}  // namespace zmproxy::schema
