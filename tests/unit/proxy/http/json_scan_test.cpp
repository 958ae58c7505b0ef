#include "lib/proxy/http/json_scan.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using zmproxy::proxy::http::json_top_level_string;
using zmproxy::proxy::http::k_max_json_depth;
using namespace std::string_literals;

TEST_CASE("the string value of a top-level member", "[http][json_scan]") {
  CHECK(json_top_level_string(R"({"sub":"abc"})", "sub") == "abc"s);
  CHECK(json_top_level_string(" \t\r\n{ \"a\" : 1 , \"sub\" : \"abc\" }\n", "sub") == "abc"s);
  CHECK(json_top_level_string(R"({"sub":""})", "sub") == ""s);  // empty is the caller's to refuse
  CHECK(json_top_level_string(R"({"Sub":"abc"})", "sub") == std::nullopt);  // names are case-sensitive
  CHECK(json_top_level_string(R"({})", "sub") == std::nullopt);
  CHECK(json_top_level_string(R"({"other":"abc"})", "sub") == std::nullopt);
  CHECK(json_top_level_string(R"({"x":{"sub":"inner"}})", "sub") == std::nullopt);  // not top level
  CHECK(json_top_level_string(R"({"x":{"sub":"inner"},"sub":"top"})", "sub") == "top"s);
}

TEST_CASE("escapes are undone, in values and in names", "[http][json_scan]") {
  CHECK(json_top_level_string(R"({"k":"\"\\\/\b\f\n\r\t"})", "k") == "\"\\/\b\f\n\r\t"s);
  CHECK(json_top_level_string(R"({"k":"\u0041\u00e9\u20AC"})", "k") == "A\xC3\xA9\xE2\x82\xAC"s);
  CHECK(json_top_level_string(R"({"k":"\ud83d\ude00"})", "k") == "\xF0\x9F\x98\x80"s);  // a surrogate pair
  CHECK(json_top_level_string(R"({"k":"\u0000"})", "k") == "\0"s);
  CHECK(json_top_level_string(R"({"\u006b":"v"})", "k") == "v"s);
  CHECK(json_top_level_string("{\"k\":\"\xC3\xA9\"}", "k") == "\xC3\xA9"s);  // raw UTF-8 passes
}

TEST_CASE("every JSON value kind is skipped over", "[http][json_scan]") {
  CHECK(json_top_level_string(
            R"({"a":[1,-2,3.25,-0.5e10,1E+2,2e-3,true,false,null,"s",{"b":[]},[]],"o":{},"k":"v"})", "k") ==
        "v"s);
}

TEST_CASE("a repeated member or a value that is not a string is refused", "[http][json_scan]") {
  for (const char* text : {R"({"k":"a","k":"b"})", R"({"k":"a","k":1})", R"({"k":1})", R"({"k":null})",
                           R"({"k":true})", R"({"k":["a"]})", R"({"k":{"a":"b"}})"}) {
    INFO(text);
    CHECK_FALSE(json_top_level_string(text, "k").has_value());
  }
}

TEST_CASE("anything that is not strict JSON is refused", "[http][json_scan]") {
  const std::vector<std::string> bad = {
      "",
      " ",
      R"("k")",
      R"(["k","v"])",
      R"({"k":"v")",
      R"({"k":"v",})",
      R"({"k" "v"})",
      R"({k:"v"})",
      R"({'k':'v'})",
      R"({"k":"v"} x)",
      R"({"k":"v"}{})",
      R"({"k":"a\qb"})",
      R"({"k":"a\u12"})",
      R"({"k":"a\u12g4"})",
      R"({"k":"a\ud83d"})",
      R"({"k":"a\ud83dx"})",
      R"({"k":"a\ud83d\u0041"})",
      R"({"k":"a\ude00"})",
      "{\"k\":\"a\tb\"}",
      "{\"k\":\"a\nb\"}",
      R"({"k":"unterminated})",
      R"({"x":01,"k":"v"})",
      R"({"x":1.,"k":"v"})",
      R"({"x":.5,"k":"v"})",
      R"({"x":+1,"k":"v"})",
      R"({"x":1e,"k":"v"})",
      R"({"x":-,"k":"v"})",
      R"({"x":tru,"k":"v"})",
      R"({"x":nul,"k":"v"})",
      R"({"x":True,"k":"v"})",
      R"({"x":[1,],"k":"v"})",
      R"({"x":[1 2],"k":"v"})",
      R"({"x":{"a"},"k":"v"})",
      R"({"x":,"k":"v"})",
  };
  for (const std::string& text : bad) {
    INFO(text);
    CHECK_FALSE(json_top_level_string(text, "k").has_value());
  }
}

TEST_CASE("nesting is bounded", "[http][json_scan]") {
  const auto nested = [](int depth) {
    return R"({"x":)" + std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']') + R"(,"k":"v"})";
  };
  CHECK(json_top_level_string(nested(k_max_json_depth), "k") == "v"s);
  CHECK_FALSE(json_top_level_string(nested(k_max_json_depth + 1), "k").has_value());
  CHECK_FALSE(json_top_level_string(nested(10000), "k").has_value());  // no deep recursion
}
