#pragma once
/// \file
/// Durable writes, the one way the project writes files: a file holds either its old contents or
/// all of the new ones, whatever fails (a full disk, a file size limit, a crash), and a folder is
/// replaced by another in one step.
///
/// Temporary files and folders are created in the target's folder, exclusively (O_CREAT|O_EXCL,
/// O_NOFOLLOW: a link planted at their name is never followed), under unpredictable names
/// `.NAME.tmp-SUFFIX` (SUFFIX: 16 random hexadecimal digits). Every write and every close is
/// checked, and the file and then its folder are flushed to the disk (fsync) around the rename.
#include <string>
#include <string_view>

namespace autograd {

/// Writes `contents` to the file `path`, replacing what it held.
///
/// A regular file (or a missing one) is written to a new temporary file beside it, which is
/// fsynced and renamed over it, then the folder is fsynced: `path` holds the old contents or all of
/// the new ones, and an existing file keeps its permission bits. A symbolic link the caller names is
/// followed: the file it points to is replaced and the link stays. Anything else (a character
/// device such as /dev/null, a FIFO, a pipe reached through /dev/stdout) and any path under /dev or
/// /proc is opened as it is and written in place, never replaced by a regular file. Throws
/// std::runtime_error "cannot write 'PATH': REASON" (the errno text of the write that failed,
/// "is a folder", "folder 'F' does not exist", a link to a missing file), leaving `path` as it
/// was and no temporary file behind.
void write_file(const std::string& path, std::string_view contents);

/// Checks, before a long computation, that write_file(path, …) could write `path`; creates
/// nothing. Throws std::runtime_error as write_file does when `path` is a folder, a symbolic link
/// to a missing file, or in a folder that does not exist or cannot be written.
void check_file_target(const std::string& path);

/// Writes `contents` to a new regular file `path`, which must not exist (O_EXCL, O_NOFOLLOW),
/// checking every write and the close, and fsyncs it; on failure removes it. For the files of a
/// folder the caller has just created, such as make_temporary_folder's. Throws
/// std::runtime_error "cannot write 'PATH': REASON".
void write_new_file(const std::string& path, std::string_view contents);

/// Flushes the entries of `folder` (created, renamed or removed files) to the disk (fsync).
/// Throws std::runtime_error naming the folder.
void sync_folder(const std::string& folder);

/// Creates a new, empty folder `parent/PREFIXSUFFIX` (SUFFIX: 16 random hexadecimal digits;
/// mkdir never follows a link planted there) with the usual permissions (0777 less the umask) and
/// returns its path. Throws std::runtime_error naming `parent`.
std::string make_temporary_folder(const std::string& parent, const std::string& prefix);

/// Swaps the two paths `a` and `b` (both must exist, on one filesystem) in one step with
/// renameat2(RENAME_EXCHANGE). Returns false, changing nothing, where the filesystem or the kernel
/// cannot (EINVAL, ENOSYS, ENOTSUP); throws std::runtime_error naming both on other errors.
bool exchange_paths(const std::string& a, const std::string& b);

/// An exclusive lock (flock) on the file `path`, created if missing, held from construction to
/// destruction; other processes constructing one on the same path wait. The file is removed when
/// the lock is released; a waiter that then holds the lock on a removed file opens it again, so
/// that two holders never coexist.
class ExclusiveLock {
 public:
  /// Waits for and takes the lock. Throws std::runtime_error naming `path` if it cannot be opened.
  explicit ExclusiveLock(std::string path);
  /// Removes the lock file and releases the lock.
  ~ExclusiveLock();
  ExclusiveLock(const ExclusiveLock&) = delete;             ///< not copyable
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;  ///< not copyable

 private:
  std::string path_;
  int fd_ = -1;
};

namespace detail {
// Test hooks, never set by the library itself.
// Called with the name of each step a durable save reaches (nn::save_model's steps); a test ends
// the process there to check what a crash at that step leaves.
extern void (*step_hook)(const char* step);
// Calls step_hook if set.
void step(const char* name);
// When true, exchange_paths returns false, as on a filesystem without RENAME_EXCHANGE.
extern bool exchange_disabled;
// When set, gives the suffixes of temporary names instead of random ones.
extern std::string (*temporary_suffix)();
}  // namespace detail

}  // namespace autograd
