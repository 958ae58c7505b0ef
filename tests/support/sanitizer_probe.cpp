// Leaks one allocation on purpose, in a sanitizer build only (issue 20):
// tests/integration/fixtures_test.py starts it to prove that a report
// written by a process a test started fails that test
// (tests/support/sanitizer_reports.py).
#include <cstdlib>

int main() {
  void* volatile leaked = std::malloc(64);
  leaked = nullptr;
  return leaked == nullptr ? 0 : 1;
}
