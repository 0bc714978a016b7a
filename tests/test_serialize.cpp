// Model folders: what save_model may replace, what it must leave alone, and what load_model
// refuses.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <csignal>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <xtensor/xnpy.hpp>

#include "autograd/durable.hpp"
#include "nn/layers.hpp"
#include "nn/serialize.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;
using test_support::error_of;
using test_support::TempDir;
using test_support::read_file;

namespace fs = std::filesystem;

namespace {

nn::MLP small_model(std::uint64_t seed) { return nn::MLP({2, 3, 2}, nn::Activation::tanh, seed); }

bool same_weights(nn::MLP& a, nn::MLP& b) {
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (!(pa[i]->value == pb[i]->value)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("save_model refuses to replace what is not a model it wrote", "[serialize]") {
  const TempDir tmp;
  nn::MLP model = small_model(1);
  SECTION("a regular file") {
    const std::string path = tmp.write("notes.txt", "precious\n");
    CHECK_THROWS_WITH(nn::save_model(model, path), Contains(path) && Contains("not a model folder"));
    CHECK(read_file(path) == "precious\n");
    CHECK(tmp.entries() == std::vector<std::string>{"notes.txt"});
  }
  SECTION("a folder of user files") {
    fs::create_directories(tmp.path() / "exp" / "sub");
    const std::string data = tmp.write("exp/data.csv", "0,0,0\n1,1,1\n");
    tmp.write("exp/sub/more.txt", "more");
    const std::string dir = tmp.path("exp");
    CHECK_THROWS_WITH(nn::save_model(model, dir), Contains(dir) && Contains("data.csv"));
    CHECK_THROWS_WITH(nn::save_model(model, dir + "/"), Contains(dir));
    CHECK(read_file(data) == "0,0,0\n1,1,1\n");
    CHECK(read_file(tmp.path() / "exp" / "sub" / "more.txt") == "more");
    CHECK(tmp.entries() == std::vector<std::string>{"exp"});
  }
  SECTION("a model folder that also holds a user's file") {
    const std::string dir = tmp.path("m");
    nn::save_model(model, dir);
    tmp.write("m/boundary.png", "picture");
    CHECK_THROWS_WITH(nn::save_model(small_model(2), dir), Contains(dir) && Contains("boundary.png"));
    CHECK(read_file(tmp.path() / "m" / "boundary.png") == "picture");
    nn::MLP kept = nn::load_model(dir);
    CHECK(same_weights(kept, model));
  }
  SECTION("a folder of model-like files without the format line") {
    const std::string dir = tmp.path("m");
    nn::save_model(model, dir);
    std::ofstream(tmp.path() / "m" / "model.txt") << "my own notes\n";
    CHECK_THROWS_WITH(nn::save_model(model, dir), Contains(dir) && Contains("model.txt"));
    CHECK(read_file(tmp.path() / "m" / "model.txt") == "my own notes\n");
  }
}

TEST_CASE("save_model replaces its own model and may use an empty folder", "[serialize]") {
  const TempDir tmp;
  nn::MLP first = small_model(1);
  nn::MLP second({2, 5, 4, 3}, nn::Activation::relu, 2);
  SECTION("an empty folder") {
    fs::create_directory(tmp.path() / "m");
    nn::save_model(first, tmp.path("m"));
    nn::MLP loaded = nn::load_model(tmp.path("m"));
    CHECK(same_weights(loaded, first));
  }
  SECTION("a trailing slash") {
    nn::save_model(first, tmp.path("m") + "/");
    nn::save_model(second, tmp.path("m") + "/");
    nn::MLP loaded = nn::load_model(tmp.path("m"));
    CHECK(same_weights(loaded, second));
  }
  SECTION("missing parent folders are created") {
    nn::save_model(first, tmp.path("a/b/m"));
    CHECK(fs::exists(tmp.path() / "a" / "b" / "m" / "model.txt"));
  }
  CHECK(tmp.entries().size() == 1);  // no staging or previous folder left beside it
}

TEST_CASE("a user's folders next to the model are untouched by a save", "[serialize]") {
  const TempDir tmp;
  nn::save_model(small_model(1), tmp.path("m"));
  for (const char* name : {"m.saving", "m.previous", ".m.saving", ".m.previous"}) {
    fs::create_directory(tmp.path() / name);
    tmp.write(std::string(name) + "/mine.txt", name);
  }
  nn::MLP second = small_model(2);
  nn::save_model(second, tmp.path("m"));
  nn::MLP loaded = nn::load_model(tmp.path("m"));
  CHECK(same_weights(loaded, second));
  for (const char* name : {"m.saving", "m.previous", ".m.saving", ".m.previous"}) {
    CAPTURE(name);
    CHECK(read_file(tmp.path() / name / "mine.txt") == name);
  }
  CHECK(tmp.entries() ==
        std::vector<std::string>{".m.previous", ".m.saving", "m", "m.previous", "m.saving"});
}

TEST_CASE("the old model survives a failed save", "[serialize]") {
  const TempDir tmp;
  nn::MLP old_model = small_model(1);
  nn::save_model(old_model, tmp.path("m"));
  nn::MLP bad = small_model(2);
  bad.layers()[1].W.value(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(nn::save_model(bad, tmp.path("m")),
                    Contains(tmp.path("m")) && Contains("layer1_W.npy") && Contains("nan"));
  nn::MLP loaded = nn::load_model(tmp.path("m"));
  CHECK(same_weights(loaded, old_model));
  CHECK(tmp.entries() == std::vector<std::string>{"m"});
}

TEST_CASE("check_save_target finds an unusable destination before anything is written", "[serialize]") {
  const TempDir tmp;
  const std::string file = tmp.write("file", "x");
  CHECK_THROWS_WITH(nn::check_save_target(file + "/sub/m"), Contains(file));
  CHECK_THROWS_WITH(nn::check_save_target(file), Contains(file) && Contains("not a model folder"));
  CHECK_NOTHROW(nn::check_save_target(tmp.path("new")));
  CHECK(tmp.entries() == std::vector<std::string>{"file"});
  CHECK(read_file(file) == "x");
}

TEST_CASE("load_model refuses non-finite weights, extra layer files and huge sizes", "[serialize]") {
  const TempDir tmp;
  const std::string dir = tmp.path("m");
  nn::save_model(small_model(1), dir);
  SECTION("a NaN weight") {
    autograd::Matrix W = xt::zeros<double>({std::size_t{2}, std::size_t{3}});
    W(1, 2) = std::numeric_limits<double>::quiet_NaN();
    xt::dump_npy((tmp.path() / "m" / "layer0_W.npy").string(), W);
    CHECK_THROWS_WITH(nn::load_model(dir), Contains("layer0_W.npy") && Contains("nan"));
  }
  SECTION("an infinite bias") {
    autograd::Matrix b = xt::zeros<double>({std::size_t{1}, std::size_t{2}});
    b(0, 0) = -std::numeric_limits<double>::infinity();
    xt::dump_npy((tmp.path() / "m" / "layer1_b.npy").string(), b);
    CHECK_THROWS_WITH(nn::load_model(dir), Contains("layer1_b.npy") && Contains("inf"));
  }
  SECTION("layer files beyond what model.txt lists") {
    nn::save_model(nn::MLP({2, 3, 3, 2}, nn::Activation::tanh, 1), tmp.path("deep"));
    fs::copy_file(tmp.path() / "deep" / "layer2_W.npy", tmp.path() / "m" / "layer2_W.npy");
    CHECK_THROWS_WITH(nn::load_model(dir), Contains("layer2_W.npy") && Contains("model.txt"));
  }
  SECTION("sizes above the limits") {
    std::ofstream(tmp.path() / "m" / "model.txt")
        << "autograd-mlp 1\nactivation tanh\nsizes 2 100000000 2\n";
    CHECK_THROWS_WITH(nn::load_model(dir), Contains("model.txt: line 3") && Contains("100000000"));
  }
}

namespace {

// The dtype string in a .npy file's header, e.g. "<f4".
std::string npy_descr(const fs::path& path) {
  const std::string text = read_file(path);
  const std::size_t at = text.find("'descr': '");
  return at == std::string::npos ? "" : text.substr(at + 10, 3);
}

}  // namespace

TEST_CASE("a float32 model saves <f4 files and its dtype, and loads back bit for bit", "[serialize][float32]") {
  const TempDir tmp;
  const std::string dir = tmp.path("m");
  nn::f32::MLP model({2, 5, 3}, nn::Activation::relu, 7);
  nn::save_model(model, dir);
  for (const char* f : {"layer0_W.npy", "layer0_b.npy", "layer1_W.npy", "layer1_b.npy"}) {
    CAPTURE(f);
    CHECK(npy_descr(tmp.path() / "m" / f) == "<f4");
  }
  CHECK(read_file(tmp.path() / "m" / "model.txt") ==
        "autograd-mlp 1\nactivation relu\nsizes 2 5 3\ndtype float32\n");
  CHECK(nn::saved_dtype(dir) == "float32");
  nn::f32::MLP loaded = nn::load_model<float>(dir);
  CHECK(loaded.converted_from().empty());
  CHECK(loaded.sizes() == model.sizes());
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK((loaded.layers()[i].W.value == model.layers()[i].W.value));
    CHECK((loaded.layers()[i].b.value == model.layers()[i].b.value));
  }
  // Saved again unchanged: the same files, and still replaceable by a float64 model.
  nn::save_model(loaded, dir);
  CHECK(read_file(tmp.path() / "m" / "model.txt") ==
        "autograd-mlp 1\nactivation relu\nsizes 2 5 3\ndtype float32\n");
  nn::save_model(small_model(1), dir);
  CHECK(npy_descr(tmp.path() / "m" / "layer0_W.npy") == "<f8");
  CHECK(nn::saved_dtype(dir) == "float64");
}

TEST_CASE("loading in the other precision converts and says so in the manifest", "[serialize][float32]") {
  const TempDir tmp;
  nn::MLP model64 = small_model(3);
  nn::save_model(model64, tmp.path("m64"));
  SECTION("float64 files into a float32 model") {
    nn::f32::MLP model32 = nn::load_model<float>(tmp.path("m64"));
    CHECK(model32.converted_from() == "float64");
    CHECK((model32.layers()[0].W.value == xt::cast<float>(model64.layers()[0].W.value)));
    nn::save_model(model32, tmp.path("m32"));
    CHECK(read_file(tmp.path() / "m32" / "model.txt") ==
          "autograd-mlp 1\nactivation tanh\nsizes 2 3 2\ndtype float32\nconverted_from float64\n");
    CHECK(npy_descr(tmp.path() / "m32" / "layer1_W.npy") == "<f4");
    // Loaded again as float32, the record of the conversion stays.
    CHECK(nn::load_model<float>(tmp.path("m32")).converted_from() == "float64");
    // And back to float64: converted from float32 now; the values are the rounded ones.
    nn::MLP back = nn::load_model(tmp.path("m32"));
    CHECK(back.converted_from() == "float32");
    CHECK((back.layers()[0].W.value == xt::cast<double>(model32.layers()[0].W.value)));
  }
  SECTION("a float64 file without a dtype line (an older version's) is float64") {
    std::ofstream(tmp.path() / "m64" / "model.txt") << "autograd-mlp 1\nactivation tanh\nsizes 2 3 2\n";
    nn::MLP loaded = nn::load_model(tmp.path("m64"));
    CHECK(loaded.converted_from().empty());
    CHECK(same_weights(loaded, model64));
    CHECK(nn::load_model<float>(tmp.path("m64")).converted_from() == "float64");
  }
  SECTION("a float64 value too large for float32 is refused, not made infinite") {
    autograd::Matrix W = model64.layers()[0].W.value;
    W(1, 1) = 1e300;
    xt::dump_npy((tmp.path() / "m64" / "layer0_W.npy").string(), W);
    CHECK_NOTHROW(nn::load_model(tmp.path("m64")));
    CHECK_THROWS_WITH(nn::load_model<float>(tmp.path("m64")),
                      Contains("layer0_W.npy") && Contains("inf") && Contains("float32"));
  }
  SECTION("weight files of another dtype than model.txt gives") {
    const xt::xtensor<float, 2> W = xt::cast<float>(model64.layers()[0].W.value);
    xt::dump_npy((tmp.path() / "m64" / "layer0_W.npy").string(), W);
    CHECK_THROWS_WITH(nn::load_model(tmp.path("m64")),
                      Contains("layer0_W.npy") && Contains("float32") && Contains("float64"));
  }
  SECTION("a bad dtype line") {
    std::ofstream(tmp.path() / "m64" / "model.txt")
        << "autograd-mlp 1\nactivation tanh\nsizes 2 3 2\ndtype float16\n";
    CHECK_THROWS_WITH(nn::load_model(tmp.path("m64")), Contains("model.txt: line 4") && Contains("dtype float64|float32"));
    CHECK_THROWS_WITH(nn::saved_dtype(tmp.path("m64")), Contains("model.txt: line 4"));
  }
}

TEST_CASE("a model's input scaling is applied by the model and kept by save and load", "[serialize][scaling]") {
  TempDir dir;
  const autograd::Matrix X = {{1000.0, -3.0}, {1010.0, -1.0}, {990.0, 2.0}, {1005.0, 0.5}};
  const nn::Standardizer scaling = nn::Standardizer::fit(X);
  nn::MLP scaled = small_model(3);
  nn::MLP plain = small_model(3);
  scaled.set_input_scaling(scaling);
  // The scaled model on raw rows must compute what the plain one computes on scaled rows.
  const autograd::Matrix p_scaled = scaled.probabilities(X);
  const autograd::Matrix p_plain = plain.probabilities(scaling.transform(X));
  CHECK((p_scaled == p_plain));
  CHECK_FALSE((p_scaled == plain.probabilities(X)));  // and the scaling does change the outputs

  const std::string folder = dir.path("m");
  nn::save_model(scaled, folder);
  CHECK_THAT(read_file(fs::path(folder) / "model.txt"), Contains("\ninput_scaling standardize\n"));
  nn::MLP loaded = nn::load_model(folder);
  REQUIRE(loaded.input_scaling());
  CHECK((loaded.input_scaling()->mean == scaling.mean));
  CHECK((loaded.input_scaling()->scale == scaling.scale));
  CHECK((loaded.probabilities(X) == p_scaled));
  nn::save_model(loaded, folder);  // a folder with scaling files is a model folder it may replace

  // float32: the scaling files stay float64, the model scales in float32.
  nn::f32::MLP loaded32 = nn::load_model<float>(folder);
  REQUIRE(loaded32.input_scaling());
  CHECK(loaded32.predict(X) == loaded.predict(X));

  // A model without scaling writes no scaling files, as before.
  const std::string folder_plain = dir.path("p");
  nn::save_model(plain, folder_plain);
  CHECK_FALSE(fs::exists(fs::path(folder_plain) / "input_mean.npy"));
  CHECK_FALSE(nn::load_model(folder_plain).input_scaling());

  SECTION("scaling files without the manifest line are refused") {
    fs::copy_file(fs::path(folder) / "input_mean.npy", fs::path(folder_plain) / "input_mean.npy");
    CHECK_THAT(error_of([&] { nn::load_model(folder_plain); }),
               Contains("input_mean.npy") && Contains("input_scaling"));
  }
  SECTION("a scale of 0 is refused, naming the file") {
    xt::dump_npy((fs::path(folder) / "input_scale.npy").string(), autograd::Matrix{{1.0, 0.0}});
    CHECK_THAT(error_of([&] { nn::load_model(folder); }), Contains("input_scale.npy"));
  }
  SECTION("scaling of the wrong width is refused") {
    xt::dump_npy((fs::path(folder) / "input_mean.npy").string(), autograd::Matrix{{1.0, 0.0, 2.0}});
    CHECK_THAT(error_of([&] { nn::load_model(folder); }), Contains("input_mean.npy") && Contains("shape"));
    CHECK_THROWS_AS(plain.set_input_scaling(nn::Standardizer::fit(autograd::Matrix{{1.0, 2.0, 3.0}})),
                    std::invalid_argument);
  }
}

namespace {

// What a forked child did: its wait status and the message of the exception it ended with.
struct ChildResult {
  int status = 0;
  std::string message;
};

// Runs f in a forked child, which exits 0 if f returns and 1 if it throws (writing the message to
// a pipe); f may also end the child itself with _exit. The child never returns into Catch.
template <class F>
pid_t start_child(F&& f, int& message_fd) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    try {
      f();
    } catch (const std::exception& e) {
      const std::string m = e.what();
      code = ::write(fds[1], m.data(), m.size()) < 0 ? 3 : 1;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  message_fd = fds[0];
  return pid;
}

ChildResult finish_child(pid_t pid, int message_fd) {
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(message_fd, buf, sizeof buf)) > 0;) r.message.append(buf, n);
  ::close(message_fd);
  ::waitpid(pid, &r.status, 0);
  return r;
}

template <class F>
ChildResult in_child(F&& f) {
  int fd = -1;
  const pid_t pid = start_child(std::forward<F>(f), fd);
  return finish_child(pid, fd);
}

bool exited_with(const ChildResult& r, int code) {
  return WIFEXITED(r.status) && WEXITSTATUS(r.status) == code;
}

// The hidden folders an interrupted save could leave beside model folder `name`.
std::vector<std::string> hidden_leftovers(const TempDir& tmp, const std::string& name) {
  std::vector<std::string> found;
  for (const std::string& e : tmp.entries()) {
    if (e.rfind("." + name + ".", 0) == 0) found.push_back(e);
  }
  return found;
}

}  // namespace

TEST_CASE("a save cut short by the file size limit fails naming the file and keeps the old model",
          "[serialize][durable]") {
  const TempDir tmp;
  const std::string dir = tmp.path("m");
  nn::MLP old_model = small_model(1);
  nn::save_model(old_model, dir);
  // layer1_W.npy of this model is 300 * 300 * 8 + 128 = 720,128 bytes, above the 100,000 allowed.
  const nn::MLP big({2, 300, 300, 2}, nn::Activation::tanh, 2);
  const ChildResult r = in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{100000, 100000};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(2);
    nn::save_model(big, dir);
  });
  CHECK(exited_with(r, 1));
  CHECK_THAT(r.message, Contains("layer1_W.npy") && Contains("File too large"));
  nn::MLP loaded = nn::load_model(dir);
  CHECK(same_weights(loaded, old_model));
  CHECK(tmp.entries() == std::vector<std::string>{"m"});
}

namespace {

std::vector<std::string> steps_seen;
void record_step(const char* step) { steps_seen.emplace_back(step); }

int crash_at = -1;  // the step at which crash_step ends the process
int steps_taken = 0;
void crash_step(const char*) {
  if (steps_taken++ == crash_at) ::_exit(99);
}

}  // namespace

TEST_CASE("a save killed at any step leaves the old or the new model, and the next save cleans up",
          "[serialize][crash]") {
  // Both ways of replacing the folder: renameat2's exchange, and the two renames used where the
  // filesystem cannot exchange.
  const bool exchange = GENERATE(true, false);
  CAPTURE(exchange);
  autograd::detail::exchange_disabled = !exchange;
  const TempDir tmp;
  const std::string dir = tmp.path("m");
  nn::MLP old_model = small_model(1);
  nn::MLP new_model({2, 4, 4, 2}, nn::Activation::relu, 2);
  nn::MLP third = small_model(3);

  nn::save_model(old_model, dir);
  steps_seen.clear();
  autograd::detail::step_hook = record_step;
  nn::save_model(new_model, dir);
  autograd::detail::step_hook = nullptr;
  // Every file is written, the folders synced and the model swapped in as separate steps.
  REQUIRE(steps_seen.size() >= 10);

  for (std::size_t k = 0; k < steps_seen.size(); ++k) {
    CAPTURE(k, steps_seen[k]);
    fs::remove_all(dir);
    for (const std::string& e : hidden_leftovers(tmp, "m")) fs::remove_all(tmp.path() / e);
    nn::save_model(old_model, dir);
    const ChildResult r = in_child([&] {
      crash_at = static_cast<int>(k);
      steps_taken = 0;
      autograd::detail::step_hook = crash_step;
      nn::save_model(new_model, dir);
    });
    REQUIRE(exited_with(r, 99));
    // Without recovery, the folder holds one whole model or a load names where the model is.
    const std::string loaded_or_error = test_support::error_of([&] {
      nn::MLP m = nn::load_model(dir);
      if (!same_weights(m, old_model) && !same_weights(m, new_model)) {
        throw std::runtime_error("a model that is neither the old nor the new one");
      }
    });
    if (loaded_or_error != "(no error)") CHECK_THAT(loaded_or_error, Contains(".m."));
    if (k % 2 == 0) {
      // Recovered explicitly (as --load does): then it loads as the old or the new model.
      const std::string said = nn::recover_model_folder(dir);
      CAPTURE(said);
      nn::MLP m = nn::load_model(dir);
      CHECK((same_weights(m, old_model) || same_weights(m, new_model)));
      CHECK(hidden_leftovers(tmp, "m").empty());
    }
    // The next save recovers by itself, succeeds and leaves nothing else beside the model.
    nn::save_model(third, dir);
    nn::MLP m = nn::load_model(dir);
    CHECK(same_weights(m, third));
    CHECK(tmp.entries() == std::vector<std::string>{"m"});
  }
  autograd::detail::exchange_disabled = false;
}

TEST_CASE("concurrent saves to one folder all succeed and leave one whole model", "[serialize][concurrent]") {
  const TempDir tmp;
  const std::string dir = tmp.path("m");
  std::vector<nn::MLP> models;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    models.emplace_back(std::vector<std::size_t>{2, 100, 100, 2}, nn::Activation::tanh, seed);
  }
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    std::vector<std::pair<pid_t, int>> children;
    for (const nn::MLP& model : models) {
      int fd = -1;
      const pid_t pid = start_child([&] { nn::save_model(model, dir); }, fd);
      children.emplace_back(pid, fd);
    }
    for (const auto& [pid, fd] : children) {
      const ChildResult r = finish_child(pid, fd);
      CHECK(r.message == "");
      CHECK(exited_with(r, 0));
    }
    nn::MLP loaded = nn::load_model(dir);
    CHECK((same_weights(loaded, models[0]) || same_weights(loaded, models[1]) ||
           same_weights(loaded, models[2])));
    CHECK(tmp.entries() == std::vector<std::string>{"m"});
  }
}

TEST_CASE("a model's files are written byte for byte as numpy's .npy format", "[serialize]") {
  const TempDir tmp;
  nn::MLP model = small_model(4);
  nn::save_model(model, tmp.path("m"));
  CHECK(read_file(tmp.path() / "m" / "layer0_W.npy") == xt::dump_npy(model.layers()[0].W.value));
  CHECK(read_file(tmp.path() / "m" / "layer1_b.npy") == xt::dump_npy(model.layers()[1].b.value));
}

TEST_CASE("check_save_target refuses a mount point, which a save cannot replace", "[serialize]") {
  // /proc is a mount point in every Linux system and container.
  CHECK_THROWS_WITH(nn::check_save_target("/proc"), Contains("/proc") && Contains("mount point"));
}
