#include "lib/provisioning/filter.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::provisioning;
using namespace std::string_literals;
using Kind = Filter::Kind;

namespace {

Filter parse_ok(std::string_view text) {
  auto f = parse_filter(text);
  INFO("filter: " << text);
  if (!f) {
    INFO("error: " << f.error().message);
    FAIL("parse_filter failed");
  }
  return *f;
}

Entry make_entry(std::string dn, std::vector<std::pair<std::string, Values>> attrs) {
  Entry e;
  e.dn = std::move(dn);
  for (auto& [name, values] : attrs) {
    e.attrs[name] = std::move(values);
  }
  return e;
}

Filter item(Kind kind, std::string attr, std::string value = {}) {
  Filter f;
  f.kind = kind;
  f.attr = std::move(attr);
  f.value = std::move(value);
  return f;
}

Filter substring(std::string attr,
                 std::string initial,
                 std::vector<std::string> any,
                 std::string final_) {
  Filter f = item(Kind::substring, std::move(attr));
  f.initial = std::move(initial);
  f.any = std::move(any);
  f.final_ = std::move(final_);
  return f;
}

Filter extensible(std::string attr, bool dn_attrs, std::string rule, std::string value) {
  Filter f = item(Kind::extensible, std::move(attr), std::move(value));
  f.dn_attrs = dn_attrs;
  f.rule = std::move(rule);
  return f;
}

Filter list(Kind kind, std::vector<Filter> children) {
  Filter f;
  f.kind = kind;
  f.children = std::move(children);
  return f;
}

// Every filter text the tests use that must parse; the round trip runs over all.
const std::vector<std::string> k_valid_filters = {
    // RFC 4515 section 4
    "(cn=Babs Jensen)",
    "(!(cn=Tim Howes))",
    "(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))",
    "(o=univ*of*mich*)",
    "(seeAlso=)",
    "(cn:caseExactMatch:=Fred Flintstone)",
    "(cn:=Betty Rubble)",
    "(sn:dn:2.4.6.8.10:=Barney Rubble)",
    "(o:dn:=Ace Industry)",
    "(:1.2.3:=Wilma Flintstone)",
    "(:DN:2.4.6.8.10:=Dino)",
    "(o=Parens R Us \\28for all your parenthetical needs\\29)",
    "(cn=*\\2A*)",
    "(filename=C:\\5cMyFile)",
    "(bin=\\00\\00\\00\\04)",
    "(sn=Lu\\c4\\8di\\c4\\87)",
    // Zimbra's default proxy queries, with values filled in
    "(|(zimbraMailDeliveryAddress=u@example.com)(zimbraMailAlias=u@example.com)"
    "(zimbraId=u@example.com))",
    "(&(zimbraVirtualIPAddress=1.2.3.4)(objectClass=zimbraDomain))",
    "(&(zimbraServiceHostname=mail.example.com)(objectClass=zimbraServer))",
    "(&(zimbraDomainName=example.com)(objectClass=zimbraDomain))",
    // every kind, and the corners of the grammar
    "(cn=*)",
    "(cn=**)",
    "(cn=a**b)",
    "(cn=*jensen)",
    "(cn=babs*)",
    "(cn=b*s*j*n)",
    "(zimbraMailQuota>=1048576)",
    "(zimbraMailQuota<=-5)",
    "(cn~=babs jensen)",
    "(&)",
    "(|)",
    "(!(&))",
    "(&(a=1)(|(b=2)(!(c=3)))(d=*))",
    "(cn;lang-en=x)",
    "(2.5.4.3=x)",
    "(0.9.2342=x)",
    "(cn:dn:dn:=x)",
    "(cn=a\\5c\\2a\\28\\29\\00b)",
    "(cn=tab\there)",
    "(cn=\\ff\\FE)",
    "(cn=caf\xc3\xa9)",
    "cn=foo",
    "objectClass=*",
    "cn=a*b",
    "sn>=x",
    "cn:1.2.3:=x",
};

}  // namespace

TEST_CASE("RFC 4515 section 4 examples parse to the right tree", "[filter]") {
  CHECK(parse_ok("(cn=Babs Jensen)") == item(Kind::equal, "cn", "Babs Jensen"));
  CHECK(parse_ok("(!(cn=Tim Howes))") == list(Kind::not_, {item(Kind::equal, "cn", "Tim Howes")}));
  CHECK(parse_ok("(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))") ==
        list(Kind::and_, {item(Kind::equal, "objectClass", "Person"),
                          list(Kind::or_, {item(Kind::equal, "sn", "Jensen"),
                                           substring("cn", "Babs J", {}, "")})}));
  CHECK(parse_ok("(o=univ*of*mich*)") == substring("o", "univ", {"of", "mich"}, ""));
  CHECK(parse_ok("(seeAlso=)") == item(Kind::equal, "seeAlso", ""));
  CHECK(parse_ok("(cn:caseExactMatch:=Fred Flintstone)") ==
        extensible("cn", false, "caseExactMatch", "Fred Flintstone"));
  CHECK(parse_ok("(cn:=Betty Rubble)") == extensible("cn", false, "", "Betty Rubble"));
  CHECK(parse_ok("(sn:dn:2.4.6.8.10:=Barney Rubble)") ==
        extensible("sn", true, "2.4.6.8.10", "Barney Rubble"));
  CHECK(parse_ok("(o:dn:=Ace Industry)") == extensible("o", true, "", "Ace Industry"));
  CHECK(parse_ok("(:1.2.3:=Wilma Flintstone)") ==
        extensible("", false, "1.2.3", "Wilma Flintstone"));
  CHECK(parse_ok("(:DN:2.4.6.8.10:=Dino)") == extensible("", true, "2.4.6.8.10", "Dino"));
  CHECK(parse_ok("(o=Parens R Us \\28for all your parenthetical needs\\29)") ==
        item(Kind::equal, "o", "Parens R Us (for all your parenthetical needs)"));
  CHECK(parse_ok("(cn=*\\2A*)") == substring("cn", "", {"*"}, ""));
  CHECK(parse_ok("(filename=C:\\5cMyFile)") == item(Kind::equal, "filename", "C:\\MyFile"));
  CHECK(parse_ok("(bin=\\00\\00\\00\\04)") == item(Kind::equal, "bin", "\0\0\0\4"s));
  CHECK(parse_ok("(sn=Lu\\c4\\8di\\c4\\87)") == item(Kind::equal, "sn",
                                                     "Lu\xc4\x8d"
                                                     "i\xc4\x87"));
}

TEST_CASE("grammar corners parse to the right tree", "[filter]") {
  CHECK(parse_ok("(cn=*)") == item(Kind::present, "cn"));
  CHECK(parse_ok("(cn=**)") == item(Kind::present, "cn"));
  CHECK(parse_ok("(cn=a**b)") == substring("cn", "a", {}, "b"));
  CHECK(parse_ok("(cn=*jensen)") == substring("cn", "", {}, "jensen"));
  CHECK(parse_ok("(cn=b*s*j*n)") == substring("cn", "b", {"s", "j"}, "n"));
  CHECK(parse_ok("(cn=\\2a)") == item(Kind::equal, "cn", "*"));
  CHECK(parse_ok("(a>=1)") == item(Kind::greater_equal, "a", "1"));
  CHECK(parse_ok("(a<=1)") == item(Kind::less_equal, "a", "1"));
  CHECK(parse_ok("(a~=1)") == item(Kind::approx, "a", "1"));
  CHECK(parse_ok("(&)") == list(Kind::and_, {}));
  CHECK(parse_ok("(|)") == list(Kind::or_, {}));
  CHECK(parse_ok("(cn;lang-en=x)") == item(Kind::equal, "cn;lang-en", "x"));
  CHECK(parse_ok("(2.5.4.3=x)") == item(Kind::equal, "2.5.4.3", "x"));
  CHECK(parse_ok("(cn:dn:dn:=x)") == extensible("cn", true, "dn", "x"));
  CHECK(parse_ok("(cn=\\ff\\FE)") == item(Kind::equal, "cn", "\xff\xfe"));
  CHECK(parse_ok("(cn=tab\there)") == item(Kind::equal, "cn", "tab\there"));
}

TEST_CASE("a filter without the outer parentheses is accepted as if wrapped", "[filter]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cn=foo", "(cn=foo)"}, {"objectClass=*", "(objectClass=*)"}, {"cn=a*b", "(cn=a*b)"},
      {"sn>=x", "(sn>=x)"},   {"cn:1.2.3:=x", "(cn:1.2.3:=x)"},
  };
  for (const auto& [bare, wrapped] : cases) {
    INFO(bare);
    CHECK(parse_ok(bare) == parse_ok(wrapped));
  }
}

TEST_CASE("to_string is canonical and round-trips every test filter", "[filter]") {
  CHECK(to_string(parse_ok("(cn=*\\2A*)")) == "(cn=*\\2a*)");
  CHECK(to_string(parse_ok("(:DN:2.4.6.8.10:=Dino)")) == "(:dn:2.4.6.8.10:=Dino)");
  CHECK(to_string(parse_ok("(bin=\\00\\00\\00\\04)")) == "(bin=\\00\\00\\00\\04)");
  CHECK(to_string(parse_ok("(filename=C:\\5cMyFile)")) == "(filename=C:\\5cMyFile)");
  CHECK(to_string(parse_ok("(sn=Lu\\c4\\8di\\c4\\87)")) == "(sn=Lu\xc4\x8di\xc4\x87)");
  CHECK(to_string(parse_ok("(cn=**)")) == "(cn=*)");
  CHECK(to_string(parse_ok("(cn=a**b)")) == "(cn=a*b)");
  CHECK(to_string(parse_ok("(cn=tab\there)")) == "(cn=tab\\09here)");
  CHECK(to_string(parse_ok("cn=foo")) == "(cn=foo)");
  CHECK(to_string(parse_ok("(&(a=1)(|(b=2)(!(c=3)))(d=*))")) == "(&(a=1)(|(b=2)(!(c=3)))(d=*))");

  for (const std::string& text : k_valid_filters) {
    INFO("filter: " << text);
    const Filter f = parse_ok(text);
    const std::string canonical = to_string(f);
    INFO("canonical: " << canonical);
    const Filter again = parse_ok(canonical);
    CHECK(again == f);
    CHECK(to_string(again) == canonical);
    CHECK(canonical.find('\n') == std::string::npos);
  }
}

TEST_CASE("a built filter round-trips through to_string", "[filter]") {
  const Filter f =
      list(Kind::and_,
           {item(Kind::equal, "cn", "a*b(c)\\d\0e\nf"s), substring("sn", "(", {")", "*"}, "\\"),
            list(Kind::not_, {item(Kind::approx, "o", "x")}), item(Kind::greater_equal, "n", "-3"),
            item(Kind::less_equal, "n", "*"), item(Kind::present, "mail"),
            extensible("cn", true, "caseExactMatch", "(*)"), list(Kind::or_, {})});
  const std::string text = to_string(f);
  INFO(text);
  const auto parsed = parse_filter(text);
  REQUIRE(parsed);
  CHECK(*parsed == f);
}

TEST_CASE("matching covers every kind, case-insensitively and over all values", "[filter]") {
  const Entry e = make_entry("uid=u,ou=people,dc=example,dc=com",
                             {{"objectClass", {"top", "zimbraAccount", "inetOrgPerson"}},
                              {"uid", {"U"}},
                              {"cn", {"Babs Jensen", "Barbara Jensen"}},
                              {"sn", {"Jensen"}},
                              {"mail", {"u@Example.com", "alias@example.com"}},
                              {"zimbraMailQuota", {"1048576"}},
                              {"temp", {"-5"}},
                              {"zimbraPrefSkin", {"harmony"}},
                              {"empty", {}}});
  const std::vector<std::pair<std::string, bool>> cases = {
      // equality: names and values ignore case, any value may match
      {"(cn=Babs Jensen)", true},
      {"(CN=BABS JENSEN)", true},
      {"(cn=barbara jensen)", true},
      {"(cn=Babs)", false},
      {"(cn=Babs Jensen )", false},
      {"(objectclass=ZIMBRAACCOUNT)", true},
      {"(objectClass=zimbraDomain)", false},
      {"(mail=U@EXAMPLE.COM)", true},
      {"(mail=alias@example.com)", true},
      {"(nothere=x)", false},
      {"(empty=)", false},
      // presence
      {"(cn=*)", true},
      {"(CN=*)", true},
      {"(objectClass=*)", true},
      {"(nothere=*)", false},
      {"(empty=*)", false},
      {"(cn=**)", true},
      // substrings
      {"(cn=babs*)", true},
      {"(cn=*JENSEN)", true},
      {"(cn=b*s*j*n)", true},
      {"(cn=*arb*)", true},
      {"(cn=Babs*Babs)", false},
      {"(sn=Jen*sen)", true},
      {"(sn=Jens*nsen)", false},  // initial and final may not overlap
      {"(sn=jensen*)", true},
      {"(sn=*jensen)", true},
      {"(sn=*jensen*)", true},
      {"(sn=j*e*n*s*e*n)", true},
      {"(sn=*e*e*e*)", false},
      {"(sn=*n*j*)", false},  // in order
      {"(sn=j*en*n)", true},
      {"(sn=j*ense*en)", false},  // "any" may not run into "final"
      {"(nothere=a*)", false},
      // ordering: integers when both sides are integers
      {"(zimbraMailQuota>=1048576)", true},
      {"(zimbraMailQuota>=1048577)", false},
      {"(zimbraMailQuota<=1048576)", true},
      {"(zimbraMailQuota<=999)", false},
      {"(zimbraMailQuota>=999)", true},
      {"(zimbraMailQuota>=00001048576)", true},
      {"(zimbraMailQuota>=99999999999999999999999)", false},
      {"(temp<=-4)", true},
      {"(temp>=-4)", false},
      {"(temp>=-10)", true},
      {"(temp>=-05)", true},
      {"(temp<=-05)", true},
      {"(temp>=0)", false},
      {"(temp<=-0)", true},
      // ordering: otherwise case-insensitive strings
      {"(sn>=jensen)", true},
      {"(sn>=JENSEN)", true},
      {"(sn<=jensem)", false},
      {"(sn>=k)", false},
      {"(sn<=K)", true},
      {"(zimbraPrefSkin>=Harmony)", true},
      {"(zimbraMailQuota>=abc)", false},
      {"(sn>=1)", true},
      {"(temp<=-)", false},  // "-" is no integer, so strings: "-5" sorts after "-"
      {"(nothere>=0)", false},
      {"(nothere<=z)", false},
      // approx is equality
      {"(cn~=BABS JENSEN)", true},
      {"(cn~=bab jensen)", false},
      // extensible never matches
      {"(cn:=Babs Jensen)", false},
      {"(cn:caseIgnoreMatch:=Babs Jensen)", false},
      {"(:1.2.3:=x)", false},
      {"(!(cn:=Babs Jensen))", true},
      // boolean
      {"(&)", true},
      {"(|)", false},
      {"(!(&))", false},
      {"(!(|))", true},
      {"(&(objectClass=inetOrgPerson)(|(sn=Jensen)(cn=Babs J*)))", true},
      {"(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))", false},
      {"(|(objectClass=Person)(sn=nope))", false},
      {"(|(objectClass=Person)(sn=jensen))", true},
      {"(!(cn=Tim Howes))", true},
      {"(!(cn=babs jensen))", false},
      {"(!(nothere=x))", true},
      {"(&(!(cn=x))(!(!(sn=jensen))))", true},
      // bare form
      {"cn=babs jensen", true},
  };
  for (const auto& [text, expected] : cases) {
    INFO("filter: " << text);
    CHECK(matches(parse_ok(text), e) == expected);
  }
}

TEST_CASE("Zimbra's proxy queries with escaped values", "[filter]") {
  const Entry account = make_entry("uid=u,ou=people,dc=example,dc=com",
                                   {{"objectClass", {"zimbraAccount"}},
                                    {"zimbraMailDeliveryAddress", {"u@example.com"}},
                                    {"zimbraMailAlias", {"alias@example.com", "U2@Example.COM"}},
                                    {"zimbraId", {"0f2a5e1c-1111-2222-3333-444455556666"}}});
  const Entry domain =
      make_entry("dc=example,dc=com", {{"objectClass", {"dcObject", "zimbraDomain"}},
                                       {"zimbraDomainName", {"example.com"}},
                                       {"zimbraVirtualIPAddress", {"1.2.3.4", "10.0.0.1"}}});
  const Entry server = make_entry(
      "cn=mail.example.com,cn=servers,cn=zimbra",
      {{"objectClass", {"zimbraServer"}}, {"zimbraServiceHostname", {"mail.example.com"}}});

  const auto mail_host_query = [](std::string_view user) {
    const std::string u = escape_filter_value(user);
    return "(|(zimbraMailDeliveryAddress=" + u + ")(zimbraMailAlias=" + u + ")(zimbraId=" + u +
           "))";
  };
  const auto domain_query = [](std::string_view ip) {
    return "(&(zimbraVirtualIPAddress=" + escape_filter_value(ip) + ")(objectClass=zimbraDomain))";
  };

  const std::vector<std::pair<std::string, bool>> users = {
      {"u@example.com", true},
      {"U@EXAMPLE.COM", true},
      {"alias@example.com", true},
      {"u2@example.com", true},
      {"0F2A5E1C-1111-2222-3333-444455556666", true},
      {"other@example.com", false},
      {"*", false},
      {"u@example.com)(zimbraId=*", false},
      {"*)(|(objectClass=*", false},
      {"u@example.com\\", false},
      {"", false},
  };
  for (const auto& [user, expected] : users) {
    const std::string text = mail_host_query(user);
    INFO("filter: " << text);
    const Filter f = parse_ok(text);
    CHECK(f.kind == Kind::or_);
    CHECK(f.children.size() == 3);
    CHECK(matches(f, account) == expected);
    CHECK_FALSE(matches(f, domain));
  }

  CHECK(matches(parse_ok(domain_query("1.2.3.4")), domain));
  CHECK(matches(parse_ok(domain_query("10.0.0.1")), domain));
  CHECK_FALSE(matches(parse_ok(domain_query("1.2.3.5")), domain));
  CHECK_FALSE(matches(parse_ok(domain_query("*")), domain));
  CHECK_FALSE(matches(parse_ok(domain_query("1.2.3.4")), account));

  const Filter port =
      parse_ok("(&(zimbraServiceHostname=mail.example.com)(objectClass=zimbraServer))");
  CHECK(matches(port, server));
  CHECK_FALSE(matches(port, domain));
  CHECK(matches(parse_ok("(&(zimbraDomainName=EXAMPLE.com)(objectClass=zimbraDomain))"), domain));
}

TEST_CASE("escape_filter_value escapes exactly the RFC 4515 set", "[filter]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},           {"plain user@example.com", "plain user@example.com"},
      {"*", "\\2a"},      {"(", "\\28"},
      {")", "\\29"},      {"\\", "\\5c"},
      {"\0"s, "\\00"},    {"a*b(c)\\d\0e"s, "a\\2ab\\28c\\29\\5cd\\00e"},
      {"\\2a", "\\5c2a"}, {"caf\xc3\xa9\n\t\x7f", "caf\xc3\xa9\n\t\x7f"},
  };
  for (const auto& [raw, escaped] : cases) {
    INFO("value: " << raw);
    CHECK(escape_filter_value(raw) == escaped);
  }
}

TEST_CASE("an escaped value matches exactly itself", "[filter]") {
  const std::vector<std::string> tricky = {
      "a*b(c)\\d\0"s, "a*b(c)\\d\0tail"s, "*",         "(",   ")",          "\\",          "\\2a",
      "**",           "*)(uid=*",         "x)(|(cn=*", "\0"s, "  spaced  ", "caf\xc3\xa9", "a*",
  };
  for (const std::string& x : tricky) {
    INFO("value: " << escape_filter_value(x));
    const auto f = parse_filter("(cn=" + escape_filter_value(x) + ")");
    REQUIRE(f);
    CHECK(f->kind == Kind::equal);
    CHECK(f->value == x);
    CHECK(matches(*f, make_entry("cn=x", {{"cn", {x}}})));
    CHECK(matches(*f, make_entry("cn=x", {{"cn", {"other", x}}})));
    CHECK_FALSE(matches(*f, make_entry("cn=x", {{"cn", {"a"}}})));
    CHECK_FALSE(matches(*f, make_entry("cn=x", {{"cn", {x + "y"}}})));
    CHECK_FALSE(matches(*f, make_entry("cn=x", {{"cn", {"y" + x}}})));
    CHECK_FALSE(matches(*f, make_entry("cn=x", {{"cn", {x.substr(0, x.size() - 1)}}})));
    CHECK_FALSE(matches(*f, make_entry("cn=x", {{"sn", {x}}})));
    // The same value used as an ordering or substring assertion stays literal too.
    const auto ge = parse_filter("(cn>=" + escape_filter_value(x) + ")");
    REQUIRE(ge);
    CHECK(ge->value == x);
    const auto sub = parse_filter("(cn=*" + escape_filter_value(x) + "*)");
    REQUIRE(sub);
    CHECK(sub->kind == Kind::substring);
    CHECK(matches(*sub, make_entry("cn=x", {{"cn", {"<" + x + ">"}}})));
  }
}

TEST_CASE("errors are one line with the reason and the offset", "[filter]") {
  struct Case {
    std::string text;
    std::size_t offset;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", 0, "empty filter"},
      {"()", 0, "empty filter"},
      {"(", 1, "missing ')'"},
      {"(cn=foo", 7, "missing ')'"},
      {"(&(cn=a)", 8, "missing ')'"},
      {"(&(cn=a)(|(sn=b)(", 17, "missing ')'"},
      {"(cn:=x", 6, "missing ')'"},
      {"(cn=foo))", 8, "unbalanced ')'"},
      {"cn=foo)", 6, "unbalanced ')'"},
      {")", 0, "unbalanced ')'"},
      {"(cn=foo)x", 8, "trailing characters"},
      {"(cn=foo)(sn=bar)", 8, "trailing characters"},
      {"(cn=a) ", 6, "trailing characters"},
      {"(&(cn=a)x)", 8, "expected '(' or ')', found 'x'"},
      {"(&(cn=a) )", 8, "expected '(' or ')', found ' '"},
      {"((cn=a))", 1, "unexpected '('"},
      {"(!)", 2, "expected '(' after '!'"},
      {"(!a=b)", 2, "expected '(' after '!'"},
      {"(!(a=b)(c=d))", 7, "'!' takes exactly one filter"},
      {"(=foo)", 1, "empty attribute name"},
      {"=foo", 0, "empty attribute name"},
      {"(>=1)", 1, "empty attribute name"},
      {"(;x=1)", 1, "empty attribute name"},
      {"(cn)", 3, "missing filter type"},
      {"cn", 2, "missing filter type"},
      {"(cn>x)", 4, "expected '=' after '>'"},
      {"(cn<)", 4, "expected '=' after '<'"},
      {"(cn~", 4, "expected '=' after '~'"},
      {"(c n=x)", 2, "invalid character ' ' in attribute description"},
      {"(cn_x=1)", 3, "invalid character '_' in attribute description"},
      {"(cn\x01=1)", 3, "invalid character byte 0x01 in attribute description"},
      {"&(cn=a)", 0, "invalid character '&' in attribute description"},
      {" (cn=a)", 0, "invalid character ' ' in attribute description"},
      {"(c.n=x)", 2, "invalid character '.' in attribute name"},
      {"(-cn=x)", 1, "must start with a letter or digit"},
      {"(1cn=x)", 1, "invalid numeric OID '1cn'"},
      {"(2..5=x)", 1, "invalid numeric OID"},
      {"(2.05=x)", 1, "invalid numeric OID"},
      {"(2=x)", 1, "invalid numeric OID"},
      {"(cn;=x)", 4, "empty attribute option"},
      {"(cn;a.b=x)", 5, "invalid character '.' in attribute option"},
      {"(cn=a(b)", 5, "unescaped '('"},
      {"(cn>=a*)", 6, "unescaped '*'"},
      {"(cn~=*)", 5, "unescaped '*'"},
      {"(cn<=*a)", 5, "unescaped '*'"},
      {"(cn:=a*b)", 6, "unescaped '*'"},
      {"(cn=\\zz)", 4, "bad escape"},
      {"(cn=\\2)", 4, "bad escape"},
      {"(cn=\\2g)", 4, "bad escape"},
      {"(cn=abc\\", 7, "bad escape"},
      {"(cn=\\*)", 4, "bad escape"},
      {"(cn=a\0b)"s, 5, "NUL byte in value"},
      {"(:=x)", 1, "needs a matching rule"},
      {"(:dn:=x)", 1, "needs a matching rule"},
      {"(cn::=x)", 4, "empty matching rule"},
      {"(cn:rule:x:=y)", 9, "expected ':='"},
      {"(cn:dn", 6, "missing ':='"},
      {"(cn:x=y)", 5, "invalid character '=' in extensible match"},
      {"(cn:1.2.:=x)", 4, "invalid numeric OID"},
      {"(cn:ru_le:=x)", 6, "invalid character '_' in extensible match"},
      {"(cn:a;b:=x)", 5, "invalid character ';' in matching rule"},
  };
  for (const Case& c : cases) {
    INFO("filter: " << c.text);
    const auto f = parse_filter(c.text);
    REQUIRE_FALSE(f);
    const std::string& message = f.error().message;
    INFO("message: " << message);
    CHECK(f.error().code == Errc::invalid_argument);
    CHECK(message.rfind("invalid LDAP filter '", 0) == 0);
    CHECK(message.find(c.reason) != std::string::npos);
    const std::string suffix = " at offset " + std::to_string(c.offset);
    CHECK(message.size() >= suffix.size());
    CHECK(message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find('\0') == std::string::npos);
  }
}

TEST_CASE("the error message quotes at most 80 bytes of the filter on one line", "[filter]") {
  const std::string long_value(200, 'v');
  const auto f = parse_filter("(cn=" + long_value + "(");
  REQUIRE_FALSE(f);
  CHECK(f.error().message == "invalid LDAP filter '(cn=" + std::string(76, 'v') +
                                 "...': unescaped '(' in value (write \\28) at offset 204");

  const auto g = parse_filter("(cn=a\nb\r\0"s);
  REQUIRE_FALSE(g);
  CHECK(g.error().message ==
        "invalid LDAP filter '(cn=a\\0ab\\0d\\00': NUL byte in value (write \\00) at offset 8");

  // A cut does not split a UTF-8 sequence: byte 80 is the second byte of "é".
  const auto h = parse_filter("(cn=" + std::string(75, 'v') + "\xc3\xa9(");
  REQUIRE_FALSE(h);
  CHECK(h.error().message.rfind("invalid LDAP filter '(cn=" + std::string(75, 'v') + "...': ", 0) ==
        0);
}

TEST_CASE("nesting is limited to 64 levels", "[filter]") {
  const auto nested = [](std::size_t depth, const std::string& op) {
    std::string text;
    for (std::size_t i = 1; i < depth; ++i) {
      text += "(" + op;
    }
    text += "(cn=x)";
    text += std::string(depth - 1, ')');
    return text;
  };
  REQUIRE(k_filter_max_depth == 64);
  for (const std::string op : {"!", "&", "|"}) {
    INFO("op: " << op);
    const auto ok = parse_filter(nested(64, op));
    REQUIRE(ok);
    const Entry e = make_entry("cn=x", {{"cn", {"X"}}});
    CHECK(matches(*ok, e) == (op != "!"));  // 63 negations
    CHECK(parse_ok(to_string(*ok)) == *ok);

    const auto deep = parse_filter(nested(65, op));
    REQUIRE_FALSE(deep);
    CHECK(deep.error().message.find("nested deeper than 64 levels at offset 128") !=
          std::string::npos);
  }
  // Far deeper input fails the same way (no stack exhaustion).
  std::string very_deep_text;
  for (int i = 0; i < 30000; ++i) {
    very_deep_text += "(&";
  }
  const auto very_deep = parse_filter(very_deep_text);
  REQUIRE_FALSE(very_deep);
  CHECK(very_deep.error().message.find("nested deeper than 64 levels at offset 128") !=
        std::string::npos);
}

TEST_CASE("filter text is limited to 64 KiB", "[filter]") {
  REQUIRE(k_filter_max_length == 65536);
  const std::string at_limit = "(cn=" + std::string(65536 - 5, 'a') + ")";
  REQUIRE(at_limit.size() == 65536);
  const auto ok = parse_filter(at_limit);
  REQUIRE(ok);
  CHECK(ok->value.size() == 65531);

  const auto too_long = parse_filter("(cn=" + std::string(65536 - 4, 'a') + ")");
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().code == Errc::invalid_argument);
  CHECK(too_long.error().message.find("longer than 65536 bytes at offset 65536") !=
        std::string::npos);
}
