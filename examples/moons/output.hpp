#pragma once
// The moons program's output folder, for one process and mpirun alike.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "autograd/durable.hpp"
#include "plot.hpp"

namespace moons {

// The output folder, created and checked writable before any training, so that a long run does
// not end in an error.
struct Output {
  explicit Output(const std::string& folder) : dir(folder) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
      throw std::runtime_error("--out: cannot create output folder '" + folder + "'" +
                               (ec ? ": " + ec.message() : ""));
    }
    const std::string probe = (dir / (".moons-write-test-" + std::to_string(::getpid()))).string();
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      throw std::runtime_error("--out: cannot write in output folder '" + folder +
                               "': " + std::strerror(errno));
    }
    ::close(fd);
    ::unlink(probe.c_str());
  }
  // Refuses, before any training, a picture's path that write() could not write (a folder there).
  void check(const std::string& name) const {
    try {
      autograd::check_file_target((dir / name).string());
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("--out: ") + e.what());
    }
  }
  void write(const plot::Image& image, const std::string& name) const {
    const std::string path = (dir / name).string();
    plot::write_png(image, path);
    std::cout << "  wrote " << path << "\n";
  }
  std::filesystem::path dir;
};

}  // namespace moons
