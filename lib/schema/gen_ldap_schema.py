#!/usr/bin/env python3
"""Generate zmproxy's OpenLDAP schema from lib/schema/attributes.toml.

usage: gen_ldap_schema.py ATTRIBUTES.toml OUTDIR

Writes OUTDIR/zmproxy.schema (slapd.conf `attributetype`/`objectclass` form,
for `include`) and OUTDIR/zmproxy.ldif (the same as the cn=config entry
cn=zmproxy,cn=schema,cn=config, for `ldapadd -Y EXTERNAL -H ldapi:///`).
A file is rewritten only when its content changes.

OIDs live under the private arc 1.3.6.1.4.1.32473.42 (32473 is the example
enterprise number of RFC 5612): attribute types .42.1.<n>, object classes
.42.2.<n>, with n counted from 1 over the names sorted case-insensitively.
The numbering is deterministic, not permanent: adding an attribute renumbers
the ones after it, which is harmless for a fresh test directory but means an
existing directory must be reloaded (slapcat / slapadd) with the new schema.

Attributes that OpenLDAP's own core, cosine and inetorgperson schemas (or
slapd's built-in system schema) already define are not redefined; the object
classes still list them in MAY.

The registry file is checked strictly by gen_registry.py (the same build),
so this script only reads the keys it needs.
"""
import base64
import os
import sys
import tomllib

ARC = "1.3.6.1.4.1.32473.42"
DIRECTORY_STRING = "1.3.6.1.4.1.1466.115.121.1.15"
OCTET_STRING = "1.3.6.1.4.1.1466.115.121.1.40"
WRAP = "\n\t\t"  # a line break inside a definition (slapd.conf form); one space in LDIF

# Every attribute name (and alias) of /etc/ldap/schema/{core,cosine,inetorgperson}.schema
# of OpenLDAP 2.5, including those core.schema lists only in comments because slapd
# has them built in (objectClass, cn, description, userPassword, name, uid, ...).
STANDARD_ATTRIBUTES = {name.lower() for name in """
    objectClass aliasedObjectName aliasedEntryName cn commonName c countryName description
    seeAlso userPassword name distinguishedName labeledURI uid userid
    knowledgeInformation sn surname serialNumber l localityName st stateOrProvinceName
    street streetAddress o organizationName ou organizationalUnitName title searchGuide
    businessCategory postalAddress postalCode postOfficeBox physicalDeliveryOfficeName
    telephoneNumber telexNumber teletexTerminalIdentifier facsimileTelephoneNumber fax
    x121Address internationaliSDNNumber registeredAddress destinationIndicator
    preferredDeliveryMethod presentationAddress supportedApplicationContext member owner
    roleOccupant userCertificate cACertificate authorityRevocationList
    certificateRevocationList crossCertificatePair givenName gn initials
    generationQualifier x500UniqueIdentifier dnQualifier enhancedSearchGuide
    protocolInformation uniqueMember houseIdentifier supportedAlgorithms
    deltaRevocationList dmdName pseudonym mail rfc822Mailbox dc domainComponent
    associatedDomain email emailAddress pkcs9email textEncodedORAddress info drink
    favouriteDrink roomNumber photo userClass host manager documentIdentifier
    documentTitle documentVersion documentAuthor documentLocation homePhone
    homeTelephoneNumber secretary otherMailbox aRecord mDRecord mXRecord nSRecord
    sOARecord cNAMERecord associatedName homePostalAddress personalTitle mobile
    mobileTelephoneNumber pager pagerTelephoneNumber co friendlyCountryName
    uniqueIdentifier organizationalStatus janetMailbox mailPreferenceOption buildingName
    dSAQuality singleLevelQuality subtreeMinimumQuality subtreeMaximumQuality
    personalSignature dITRedirect audio documentPublisher carLicense departmentNumber
    displayName employeeNumber employeeType jpegPhoto preferredLanguage
    userSMIMECertificate userPKCS12
""".split()}

# Object classes: name, kind, registry entry kind, MUST list.
OBJECT_CLASSES = [
    ("zimbraAccount", "AUXILIARY", "account", []),
    ("zimbraDomain", "AUXILIARY", "domain", []),
    ("zimbraGlobalConfig", "STRUCTURAL", "global", ["cn"]),
    ("zimbraServer", "STRUCTURAL", "server", ["cn"]),
]

OC_DESC = {
    "zimbraAccount": "zmproxy account attributes; used with inetOrgPerson",
    "zimbraDomain": "zmproxy domain attributes; used with dcObject and organization",
    "zimbraGlobalConfig": "zmproxy global configuration (cn=config,cn=zimbra)",
    "zimbraServer": "zmproxy server entry (cn=<name>,cn=servers,cn=zimbra)",
}


def qdstring(text):
    """An RFC 4512 qdstring: ' and \\ escaped as \\27 and \\5C."""
    return "'" + text.replace("\\", "\\5C").replace("'", "\\27") + "'"


def oid_list(names):
    """An oidlist, wrapped onto continuation lines (WRAP) every few names."""
    if len(names) == 1:
        return names[0]
    lines, line = [], []
    for name in names:
        if line and sum(len(n) + 3 for n in line) + len(name) > 72:
            lines.append(" $ ".join(line))
            line = []
        line.append(name)
    lines.append(" $ ".join(line))
    return "( " + f" ${WRAP}".join(lines) + " )"


def attribute_type(oid, name, a):
    parts = [f"( {oid}", f"NAME {qdstring(name)}", f"DESC {qdstring(a['desc'])}"]
    if a["type"] == "binary":
        parts += ["EQUALITY octetStringMatch", f"SYNTAX {OCTET_STRING}"]
    else:
        maxlen = a.get("maxlen")
        bound = f"{{{maxlen}}}" if maxlen else ""
        parts += ["EQUALITY caseIgnoreMatch", "SUBSTR caseIgnoreSubstringsMatch",
                  f"SYNTAX {DIRECTORY_STRING}{bound}"]
    if not a.get("multi", False):
        parts.append("SINGLE-VALUE")
    return parts


def object_class(oid, name, kind, must, may):
    parts = [f"( {oid}", f"NAME {qdstring(name)}", f"DESC {qdstring(OC_DESC[name])}",
             "SUP top", kind]
    if must:
        parts.append(f"MUST {oid_list(must)}")
    if may:
        parts.append(f"MAY {oid_list(may)}")
    return parts


def ldif_line(attr, value):
    """One LDIF attribute line, base64 when not safe, folded at 76 columns."""
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) \
        and not value.endswith(" ")
    if safe:
        line = f"{attr}: {value}"
    else:
        line = f"{attr}:: {base64.b64encode(value.encode()).decode()}"
    out = [line[:76]]
    rest = line[76:]
    while rest:
        out.append(" " + rest[:75])
        rest = rest[75:]
    return "\n".join(out)


def generate(data):
    ours = sorted((n for n in data if n.lower() not in STANDARD_ATTRIBUTES), key=str.lower)
    attribute_types = [attribute_type(f"{ARC}.1.{i}", name, data[name])
                       for i, name in enumerate(ours, start=1)]
    object_classes = []
    for i, (name, kind, entry_kind, must) in enumerate(
            sorted(OBJECT_CLASSES, key=lambda o: o[0].lower()), start=1):
        must_low = {m.lower() for m in must}
        may = sorted((n for n, a in data.items()
                      if entry_kind in a["on"] and n.lower() not in must_low), key=str.lower)
        object_classes.append(object_class(f"{ARC}.2.{i}", name, kind, must, may))

    header = [
        "# zmproxy's LDAP schema, generated by lib/schema/gen_ldap_schema.py from",
        "# lib/schema/attributes.toml. Do not edit.",
        f"# OIDs: attribute types {ARC}.1.<n>, object classes {ARC}.2.<n>",
        "# (private arc under the RFC 5612 example enterprise number).",
        "# Requires core, cosine and inetorgperson.",
        "",
    ]
    schema = list(header)
    for parts in attribute_types:
        schema.append("attributetype " + "\n\t".join(parts) + " )")
        schema.append("")
    for parts in object_classes:
        schema.append("objectclass " + "\n\t".join(parts) + " )")
        schema.append("")

    ldif = list(header)
    ldif += ["dn: cn=zmproxy,cn=schema,cn=config", "objectClass: olcSchemaConfig", "cn: zmproxy"]
    for i, parts in enumerate(attribute_types):
        ldif.append(ldif_line("olcAttributeTypes", f"{{{i}}}" + " ".join(parts) + " )"))
    for i, parts in enumerate(object_classes):
        text = " ".join(parts).replace(WRAP, " ")
        ldif.append(ldif_line("olcObjectClasses", f"{{{i}}}" + text + " )"))
    ldif.append("")
    return "\n".join(schema), "\n".join(ldif)


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_ldap_schema.py ATTRIBUTES.toml OUTDIR")
    with open(sys.argv[1], "rb") as f:
        data = tomllib.load(f)
    schema, ldif = generate(data)
    os.makedirs(sys.argv[2], exist_ok=True)
    write_if_changed(os.path.join(sys.argv[2], "zmproxy.schema"), schema)
    write_if_changed(os.path.join(sys.argv[2], "zmproxy.ldif"), ldif)


if __name__ == "__main__":
    main()
