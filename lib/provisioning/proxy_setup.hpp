#pragma once
// zmproxyconfig's logic (REFERENCE-zimbra §4): placeholder, being written.
namespace zmproxy::provisioning {}
