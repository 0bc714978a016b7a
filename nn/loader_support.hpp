#pragma once
/// \file
/// Internal helpers shared by nn's file loaders (data.cpp's CSV reader, npy.cpp's .npy reader);
/// not part of the API.
#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "autograd/tensor.hpp"

namespace nn::detail {

// s without leading and trailing spaces, tabs and carriage returns.
inline std::string_view trim(std::string_view s) {
  const char* space = " \t\r";
  const std::size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = s.find_last_not_of(space);
  return s.substr(first, last - first + 1);
}

// A folder opens as a stream on Linux and then fails to read; say what it is instead.
inline void check_not_folder(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("cannot open '" + path + "': it is a folder, not a file");
  }
}

// The largest label, or -1 if there is none.
inline int max_label(const autograd::Labels& y) {
  return y.empty() ? -1 : *std::max_element(y.begin(), y.end());
}

}  // namespace nn::detail
