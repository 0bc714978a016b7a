#pragma once
// The moons program's small text helpers, shared by the one-process and the MPI paths so that both
// print the same lines.
#include <cstdio>
#include <string>
#include <vector>

namespace moons {

// 0.975 -> "97.5%".
inline std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * fraction);
  return buf;
}

// {2, 3, 2} and "-" -> "2-3-2".
inline std::string join(const std::vector<std::size_t>& xs, const char* sep) {
  std::string s;
  for (std::size_t x : xs) s += (s.empty() ? "" : sep) + std::to_string(x);
  return s;
}

}  // namespace moons
