#pragma once
// What the fuzz targets share: a scratch folder for the files the loaders read, and the rule that
// bad input must come back as a std::exception whose message says where the problem is.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>

namespace fuzz {

// One folder per fuzzing process, removed when the process exits normally. The loaders only take
// paths, so every input goes through a real file, as a user's would.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "autograd-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch(), ignored);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline std::string write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path.string();
}

// A finding: printed, then abort() so that libFuzzer saves the input that caused it.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// The expected outcome for bad input: a std::exception with a message that names `must_name`
// (the file or folder the user gave), so that the user can tell what to fix.
inline void check_error(const std::exception& e, const std::string& must_name) {
  const std::string message = e.what();
  if (message.empty()) {
    finding("an exception with an empty message");
  }
  if (message.find(must_name) == std::string::npos) {
    finding("the message does not name '" + must_name + "': " + message);
  }
}

}  // namespace fuzz
