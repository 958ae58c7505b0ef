#include "lib/provisioning/proxy_setup.hpp"
