#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // renameat2 and RENAME_EXCHANGE in <stdio.h>
#endif
#include "autograd/durable.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace autograd {

namespace detail {
void (*step_hook)(const char* step) = nullptr;
bool exchange_disabled = false;
std::string (*temporary_suffix)() = nullptr;

void step(const char* name) {
  if (step_hook != nullptr) step_hook(name);
}
}  // namespace detail

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error("cannot write '" + path + "': " + why);
}

[[noreturn]] void fail_errno(const std::string& path, int err) { fail(path, std::strerror(err)); }

std::string random_suffix() {
  if (detail::temporary_suffix != nullptr) return detail::temporary_suffix();
  std::random_device rd;
  const unsigned long long bits = (static_cast<unsigned long long>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", bits);
  return buf;
}

// The folder of `path` ("." for a bare name) and its last component.
std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
std::string name_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Why no file can be created in `folder`; empty if one can.
std::string folder_problem(const std::string& folder) {
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    return errno == ENOENT ? "folder '" + folder + "' does not exist"
                           : "folder '" + folder + "': " + std::strerror(errno);
  }
  if (!S_ISDIR(st.st_mode)) return "'" + folder + "' is not a folder";
  if (::access(folder.c_str(), W_OK) != 0) {
    return "cannot write in folder '" + folder + "': " + std::strerror(errno);
  }
  return {};
}

// Writes all of `contents` to fd (write may write less than asked: a file size limit or a full
// disk end a write early, the next one gives the reason). Returns 0 or the errno.
int write_all(int fd, std::string_view contents) {
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return 0;
}

bool under_dev_or_proc(const std::string& path) {
  return path.rfind("/dev/", 0) == 0 || path.rfind("/proc/", 0) == 0;
}

// What write_file would do with `path`.
struct Plan {
  bool in_place = false;  // open and write it as it is
  std::string file;       // the regular file to replace (symbolic links resolved)
  bool keep_mode = false; // an existing file: its permission bits
  mode_t mode = 0;
};

Plan plan_for(const std::string& path) {
  if (path.empty()) fail(path, "empty path");
  Plan plan;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail(path, "is a folder, not a file");
    if (!S_ISREG(st.st_mode) || under_dev_or_proc(path)) {
      plan.in_place = true;
      return plan;
    }
    plan.keep_mode = true;
    plan.mode = st.st_mode & 07777;
    struct stat lst {};
    plan.file = path;
    if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      char resolved[PATH_MAX];
      if (::realpath(path.c_str(), resolved) == nullptr) fail_errno(path, errno);
      plan.file = resolved;
    }
  } else if (errno == ENOENT) {
    struct stat lst {};
    if (::lstat(path.c_str(), &lst) == 0) {
      fail(path, "is a symbolic link to a file that does not exist");
    }
    plan.file = path;
  } else {
    fail_errno(path, errno);
  }
  const std::string why = folder_problem(folder_of(plan.file));
  if (!why.empty()) fail(path, why);
  return plan;
}

void write_in_place(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | O_APPEND);
  if (fd < 0) fail_errno(path, errno);
  const int err = write_all(fd, contents);
  const int closed = ::close(fd) == 0 ? 0 : errno;
  if (err != 0) fail_errno(path, err);
  if (closed != 0 && closed != EINTR) fail_errno(path, closed);
}

// Writes, fsyncs and closes fd, created as `temp`; removes temp on failure. Errors name `path`.
void finish_file(int fd, const std::string& temp, const std::string& path,
                 std::string_view contents) {
  int err = write_all(fd, contents);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0 && errno != EINTR) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    fail_errno(path, err);
  }
}

}  // namespace

void write_file(const std::string& path, std::string_view contents) {
  const Plan plan = plan_for(path);
  if (plan.in_place) return write_in_place(path, contents);
  const std::string folder = folder_of(plan.file);
  const std::string base = folder + "/." + name_of(plan.file) + ".tmp-";
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = base + random_suffix();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                plan.keep_mode ? 0600 : 0666);
    if (fd < 0 && errno != EEXIST) fail_errno(path, errno);
  }
  if (fd < 0) fail(path, "no free temporary name in '" + folder + "'");
  if (plan.keep_mode && ::fchmod(fd, plan.mode) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail_errno(path, err);
  }
  finish_file(fd, temp, path, contents);
  if (::rename(temp.c_str(), plan.file.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail_errno(path, err);
  }
  sync_folder(folder);
}

void check_file_target(const std::string& path) {
  const Plan plan = plan_for(path);
  if (plan.in_place && ::access(path.c_str(), W_OK) != 0) fail_errno(path, errno);
}

void write_new_file(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd < 0) fail_errno(path, errno);
  finish_file(fd, path, path, contents);
}

void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    if (::fsync(fd) != 0) err = errno;
    ::close(fd);
  }
  // EINVAL: a filesystem that cannot sync a folder (it has nothing more to flush).
  if (err != 0 && err != EINVAL) {
    throw std::runtime_error("cannot flush folder '" + folder + "' to the disk: " +
                             std::strerror(err));
  }
}

std::string make_temporary_folder(const std::string& parent, const std::string& prefix) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string path = parent + "/" + prefix + random_suffix();
    if (::mkdir(path.c_str(), 0777) == 0) return path;
    if (errno != EEXIST) {
      throw std::runtime_error("cannot create a folder in '" + parent + "': " +
                               std::strerror(errno));
    }
  }
  throw std::runtime_error("cannot find a free name for a folder in '" + parent + "'");
}

bool exchange_paths(const std::string& a, const std::string& b) {
  if (detail::exchange_disabled) return false;
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return true;
  if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) return false;
  throw std::runtime_error("cannot exchange '" + a + "' and '" + b + "': " + std::strerror(errno));
}

ExclusiveLock::ExclusiveLock(std::string path) : path_(std::move(path)) {
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open the lock file '" + path_ + "': " + std::strerror(errno));
    }
    int rc;
    while ((rc = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
      const int err = errno;
      ::close(fd_);
      throw std::runtime_error("cannot lock '" + path_ + "': " + std::strerror(err));
    }
    // The holder before us removes the file as it releases the lock: then ours is a lock on a
    // file nobody else will open, and the path must be opened again.
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::lstat(path_.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      return;
    }
    ::close(fd_);
  }
}

ExclusiveLock::~ExclusiveLock() {
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace autograd
