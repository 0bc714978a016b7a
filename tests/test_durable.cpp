// The one way files are written: whole or not at all, through no planted link, and devices, FIFOs
// and pipes written in place rather than replaced.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "autograd/durable.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using test_support::TempDir;
using test_support::read_file;

namespace fs = std::filesystem;

namespace {

// The temporary names write_file tries: "planted" first, then fresh ones.
int suffix_calls = 0;
std::string planted_then_fresh() {
  return ++suffix_calls == 1 ? "planted" : "fresh" + std::to_string(suffix_calls);
}

}  // namespace

TEST_CASE("write_file creates or replaces a file whole and leaves nothing else", "[durable]") {
  const TempDir dir;
  const std::string path = dir.path("out.txt");
  autograd::write_file(path, "first\n");
  CHECK(read_file(path) == "first\n");
  autograd::write_file(path, "second, longer\n");
  CHECK(read_file(path) == "second, longer\n");
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
  SECTION("an existing file keeps its permissions") {
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    autograd::write_file(path, "third\n");
    CHECK(fs::status(path).permissions() ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  }
  SECTION("through a symbolic link the user named, the file it points to is replaced") {
    fs::create_symlink("out.txt", dir.path("link.txt"));
    autograd::write_file(dir.path("link.txt"), "via link\n");
    CHECK(fs::is_symlink(fs::symlink_status(dir.path("link.txt"))));
    CHECK(read_file(path) == "via link\n");
    CHECK(dir.entries() == std::vector<std::string>{"link.txt", "out.txt"});
  }
}

TEST_CASE("write_file never follows a link planted at its temporary name", "[durable]") {
  const TempDir dir;
  const std::string victim = dir.write("victim.txt", "precious\n");
  suffix_calls = 0;
  autograd::detail::temporary_suffix = planted_then_fresh;
  // Every name the first attempt could use, as a link to the victim.
  const std::string path = dir.path("out.txt");
  for (const char* name : {"out.txt.planted", ".out.txt.planted", "out.txtplanted", ".out.txt.tmp-planted",
                                  ".out.txt.writing-planted", "out.txt.writing-planted"}) {
    fs::create_symlink(victim, dir.path(name));
  }
  autograd::write_file(path, "new\n");
  autograd::detail::temporary_suffix = nullptr;
  CHECK(suffix_calls >= 2);  // the planted name was taken, so another was tried
  CHECK(read_file(victim) == "precious\n");
  CHECK(read_file(path) == "new\n");
  for (const std::string& name : dir.entries()) {
    if (name == "out.txt" || name == "victim.txt") continue;
    CAPTURE(name);
    CHECK(fs::is_symlink(fs::symlink_status(dir.path(name))));
  }
}

TEST_CASE("write_file failures name the file and the reason and leave the old file", "[durable]") {
  const TempDir dir;
  const std::string path = dir.write("out.txt", "old\n");
  SECTION("a write cut short by the file size limit") {
    const std::string error = test_support::error_under_file_size_limit(
        1000, [&] { autograd::write_file(path, std::string(5000, 'x')); });
    CHECK_THAT(error, Contains("'" + path + "'") && Contains("File too large"));
  }
  SECTION("the target is a folder") {
    fs::create_directory(dir.path("taken"));
    CHECK_THROWS_WITH(autograd::write_file(dir.path("taken"), "x"),
                      Contains("'" + dir.path("taken") + "'") && Contains("folder"));
    CHECK(fs::is_directory(dir.path("taken")));
  }
  SECTION("the folder does not exist") {
    CHECK_THROWS_WITH(autograd::write_file(dir.path("missing/out.txt"), "x"),
                      Contains("missing") && Contains("does not exist"));
  }
  CHECK(read_file(path) == "old\n");
  std::vector<std::string> left = dir.entries();
  left.erase(std::remove(left.begin(), left.end(), "taken"), left.end());
  CHECK(left == std::vector<std::string>{"out.txt"});
}

TEST_CASE("write_file writes devices and FIFOs in place and never replaces them", "[durable]") {
  SECTION("/dev/null stays the character device") {
    autograd::write_file("/dev/null", "discarded\n");
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
  SECTION("a FIFO gets the bytes and stays a FIFO") {
    const TempDir dir;
    const std::string fifo = dir.path("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string received;
    std::thread reader([&] { received = read_file(fifo); });
    autograd::write_file(fifo, "through the pipe\n");
    reader.join();
    CHECK(received == "through the pipe\n");
    CHECK(fs::is_fifo(fs::symlink_status(fifo)));
    CHECK(dir.entries() == std::vector<std::string>{"pipe"});
  }
  SECTION("a link to /dev/null stays a link to the device") {
    const TempDir dir;
    fs::create_symlink("/dev/null", dir.path("null"));
    autograd::write_file(dir.path("null"), "discarded\n");
    CHECK(fs::is_symlink(fs::symlink_status(dir.path("null"))));
    CHECK(fs::is_character_file(fs::status(dir.path("null"))));
  }
}

TEST_CASE("check_file_target refuses before any work what write_file could not write", "[durable]") {
  const TempDir dir;
  fs::create_directory(dir.path("boundary.png"));
  CHECK_THROWS_WITH(autograd::check_file_target(dir.path("boundary.png")),
                    Contains("'" + dir.path("boundary.png") + "'") && Contains("folder"));
  CHECK_THROWS_WITH(autograd::check_file_target(dir.path("missing/x.png")), Contains("does not exist"));
  fs::create_symlink(dir.path("nowhere"), dir.path("dangling"));
  CHECK_THROWS_WITH(autograd::check_file_target(dir.path("dangling")), Contains("dangling"));
  CHECK_NOTHROW(autograd::check_file_target(dir.path("new.png")));
  CHECK_NOTHROW(autograd::check_file_target("/dev/null"));
  CHECK(dir.entries() == std::vector<std::string>{"boundary.png", "dangling"});
}
