// The parts of data-parallel training that need no MPI: row ranges of CSV and .npy files, shards,
// the split over shards, and nn::train over a communicator of one. (Several ranks: test_mpi.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "nn/distributed.hpp"
#include "test_support.hpp"

namespace {

std::string data(const std::string& name) { return std::string(AUTOGRAD_TEST_DATA) + "/" + name; }

// rank r of size n, for what needs only rank() and size(); the collectives are not for this test.
class Rank final : public nn::Communicator {
 public:
  Rank(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(double*, std::size_t) override { FAIL("not collective here"); }
  void allreduce_sum(float*, std::size_t) override { FAIL("not collective here"); }
  void broadcast(double*, std::size_t, int) override { FAIL("not collective here"); }
  void broadcast(float*, std::size_t, int) override { FAIL("not collective here"); }
  std::vector<std::vector<std::int64_t>> allgather(const std::vector<std::int64_t>&) override {
    FAIL("not collective here");
    return {};
  }

 private:
  int rank_, size_;
};

void require_rows_equal(const nn::Dataset& part, const nn::Dataset& all, std::size_t first) {
  REQUIRE(part.X.shape(1) == all.X.shape(1));
  for (std::size_t i = 0; i < part.y.size(); ++i) {
    REQUIRE(part.y[i] == all.y[first + i]);
    for (std::size_t j = 0; j < part.X.shape(1); ++j) REQUIRE(part.X(i, j) == all.X(first + i, j));
  }
}

}  // namespace

TEST_CASE("shard_range splits rows into contiguous parts differing by at most one row") {
  for (std::size_t total : {0, 1, 2, 7, 200}) {
    for (int size = 1; size <= 5; ++size) {
      std::size_t next = 0;
      for (int r = 0; r < size; ++r) {
        const auto [first, last] = nn::shard_range(total, r, size);
        REQUIRE(first == next);
        REQUIRE(last - first >= total / static_cast<std::size_t>(size));
        REQUIRE(last - first <= total / static_cast<std::size_t>(size) + 1);
        next = last;
      }
      REQUIRE(next == total);
    }
  }
  REQUIRE_THROWS_WITH(nn::shard_range(10, 2, 2), Catch::Contains("rank 2 of 2"));
}

TEST_CASE("load_csv_rows and load_npy_rows: the parts of a file, put together, are the file") {
  const nn::Dataset csv = nn::load_csv(data("moons200.csv"));
  const nn::Dataset npy = nn::load_npy(data("moons200_X.npy"), data("moons200_y.npy"));
  for (int size : {1, 3, 7}) {
    for (int r = 0; r < size; ++r) {
      const auto [first, last] = nn::shard_range(200, r, size);
      std::size_t total = 0;
      const nn::Dataset part = nn::load_csv_rows(data("moons200.csv"), first, last, &total);
      REQUIRE(total == 200);
      REQUIRE(part.y.size() == last - first);
      require_rows_equal(part, csv, first);
      total = 0;
      const nn::Dataset npart =
          nn::load_npy_rows(data("moons200_X.npy"), data("moons200_y.npy"), first, last, &total);
      REQUIRE(total == 200);
      REQUIRE(npart.y.size() == last - first);
      require_rows_equal(npart, npy, first);
    }
  }
  // Past the end: no rows, the columns kept.
  const nn::Dataset none = nn::load_csv_rows(data("moons200.csv"), 300, 400, nullptr);
  REQUIRE(none.y.empty());
  REQUIRE(none.X.shape(1) == 2);
  REQUIRE(nn::load_npy_rows(data("moons200_X.npy"), data("moons200_y.npy"), 200, 201, nullptr).y.empty());
}

TEST_CASE("load_csv_rows: a broken row fails every part, naming its line") {
  test_support::TempDir dir;
  const std::string path = dir.write("broken.csv", "x,y,label\n0.5,1,0\n0.25,2,1\n1,2,3,1\n");
  REQUIRE_THROWS_WITH(nn::load_csv_rows(path, 0, 1, nullptr),
                      Catch::Contains("line 4") && Catch::Contains("expected 3 columns, got 4"));
  // A bad cell is parsed (and refused) only by the part that holds it.
  dir.write("broken.csv", "0.5,1,0\nabc,2,1\n");
  REQUIRE(nn::load_csv_rows(path, 0, 1, nullptr).y.size() == 1);
  REQUIRE_THROWS_WITH(nn::load_csv_rows(path, 1, 2, nullptr), Catch::Contains("line 2"));
}

TEST_CASE("train_test_split over shards gives train_test_split's parts, spread over the ranks") {
  const nn::Dataset all = nn::load_csv(data("moons200.csv"));
  const auto [train, test] = nn::train_test_split(all, 0.2, 5);
  for (int size : {1, 2, 3, 250}) {  // 250 ranks: most hold no rows
    std::map<std::size_t, std::pair<double, int>> train_rows, test_rows;  // global row -> (x0, y)
    for (int r = 0; r < size; ++r) {
      const nn::Shard shard = nn::shard_of(all, Rank(r, size));
      REQUIRE(shard.total_rows == 200);
      const auto [tr, te] = nn::train_test_split(shard, 0.2, 5);
      REQUIRE(tr.total_rows == train.y.size());
      REQUIRE(te.total_rows == test.y.size());
      REQUIRE(std::is_sorted(tr.rows.begin(), tr.rows.end()));
      for (std::size_t i = 0; i < tr.rows.size(); ++i) {
        REQUIRE(train_rows.emplace(tr.rows[i], std::make_pair(tr.data.X(i, 0), tr.data.y[i])).second);
      }
      for (std::size_t i = 0; i < te.rows.size(); ++i) {
        REQUIRE(test_rows.emplace(te.rows[i], std::make_pair(te.data.X(i, 0), te.data.y[i])).second);
      }
    }
    REQUIRE(train_rows.size() == train.y.size());
    REQUIRE(test_rows.size() == test.y.size());
    for (const auto& [row, value] : train_rows) {
      REQUIRE(value.first == train.X(row, 0));
      REQUIRE(value.second == train.y[row]);
    }
    for (const auto& [row, value] : test_rows) {
      REQUIRE(value.first == test.X(row, 0));
      REQUIRE(value.second == test.y[row]);
    }
  }
}

TEST_CASE("nn::train over one process is nn::train") {
  const nn::Dataset all = nn::load_csv(data("moons200.csv"));
  nn::SingleProcess one;
  const nn::Shard shard = nn::shard_of(all, one);
  for (const std::size_t batch : {std::size_t{0}, std::size_t{16}}) {
    nn::TrainOptions o;
    o.passes = 200;
    o.batch_size = batch;
    o.optimizer = batch == 0 ? "gd" : "adam";
    o.loss.reduction = batch == 0 ? autograd::Reduction::sum : autograd::Reduction::mean;
    o.log_every = 50;
    nn::MLP a({2, 4, 2}, nn::Activation::tanh, 3), b({2, 4, 2}, nn::Activation::tanh, 3);
    const auto la = nn::train(a, all, o);
    std::vector<nn::Progress> lb;
    const auto reports = nn::train(b, shard, o, one, [&](const nn::Progress& p) { lb.push_back(p); });
    REQUIRE(lb.size() == reports.size());
    REQUIRE(la.size() == reports.size());
    // The same steps; only the place where the penalty's gradient is added differs (rounding):
    // 1e-12 relative, as test_mpi.
    for (std::size_t k = 0; k < a.parameters().size(); ++k) {
      const auto& wa = a.parameters()[k]->value;
      const auto& wb = b.parameters()[k]->value;
      REQUIRE(xt::amax(xt::abs(wa - wb))() <= 1e-12 * xt::amax(xt::abs(wa))());
    }
    for (std::size_t i = 0; i < la.size(); ++i) {
      REQUIRE(reports[i].loss == Approx(la[i].loss).epsilon(1e-12));
      REQUIRE(reports[i].accuracy == la[i].accuracy);
    }
  }
}

TEST_CASE("allreduce_gradients and broadcast_parameters over one process leave values as they are") {
  nn::MLP m({2, 3, 2}, nn::Activation::tanh, 1);
  nn::SingleProcess one;
  for (auto* p : m.parameters()) p->grad.fill(0.5);
  nn::allreduce_gradients(m.parameters(), one);
  nn::allreduce_gradients(m.parameters(), one, true);
  for (auto* p : m.parameters()) REQUIRE(xt::all(xt::equal(p->grad, 0.5)));
}

TEST_CASE("agree: a failure becomes a DistributedError naming the rank") {
  nn::SingleProcess one;
  REQUIRE_THROWS_AS(nn::agree(one, [] { throw std::runtime_error("bad file"); }), nn::DistributedError);
  REQUIRE_THROWS_WITH(nn::agree(one, [] { throw std::runtime_error("bad file"); }), "rank 0: bad file");
  REQUIRE_NOTHROW(nn::agree(one, [] {}));
}

// Rank 0 of two, whose other rank sent `other` to the all-gather.
class TwoRanks final : public nn::Communicator {
 public:
  explicit TwoRanks(std::vector<std::int64_t> other) : other_(std::move(other)) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void allreduce_sum(double*, std::size_t) override { FAIL("not collective here"); }
  void allreduce_sum(float*, std::size_t) override { FAIL("not collective here"); }
  void broadcast(double*, std::size_t, int) override { FAIL("not collective here"); }
  void broadcast(float*, std::size_t, int) override { FAIL("not collective here"); }
  std::vector<std::vector<std::int64_t>> allgather(const std::vector<std::int64_t>& mine) override {
    return {mine, other_};
  }

 private:
  std::vector<std::int64_t> other_;
};

TEST_CASE("gather_step: ranks at different steps stop with one error naming both steps",
          "[distributed]") {
  using nn::detail::Step;
  const auto tag = [](Step s) { return static_cast<std::int64_t>(s); };
  SECTION("the same step: the messages without their tags") {
    TwoRanks comm({tag(Step::shard), 7, 8});
    const auto all = nn::detail::gather_step(comm, Step::shard, {1, 2, 3});
    REQUIRE(all == std::vector<std::vector<std::int64_t>>{{1, 2, 3}, {7, 8}});
  }
  SECTION("another step") {
    TwoRanks comm({tag(Step::agree)});
    REQUIRE_THROWS_WITH(nn::detail::gather_step(comm, Step::shard, {200, 2, 2}),
                        Catch::StartsWith("the ranks are out of step: rank 1 is at nn::agree, "
                                          "rank 0 at reading a shard"));
  }
  SECTION("an all-gather of another kind, or an empty one") {
    for (const std::vector<std::int64_t>& other : {std::vector<std::int64_t>{}, {'p', 'r'}}) {
      TwoRanks comm(other);
      REQUIRE_THROWS_AS(nn::detail::gather_step(comm, Step::agree, {}), nn::DistributedError);
      REQUIRE_THROWS_WITH(nn::detail::gather_step(comm, Step::agree, {}),
                          Catch::Contains("rank 1 is at another collective step, rank 0 at nn::agree"));
    }
  }
}
