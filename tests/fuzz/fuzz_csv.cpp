// nn::load_csv on arbitrary bytes. Bad input must give a std::exception naming the file; a file it
// accepts must be a valid data set (finite features, labels 0..classes-1, one per row).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nn/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_file(fuzz::scratch() / "input.csv",
                                            std::string_view(reinterpret_cast<const char*>(data), size));
  nn::Dataset d;
  try {
    d = nn::load_csv(path);
  } catch (const std::exception& e) {
    fuzz::check_error(e, path);
    return 0;
  }
  try {
    nn::check_dataset(d, path);
  } catch (const std::exception& e) {
    fuzz::finding(std::string("load_csv accepted a data set that check_dataset rejects: ") + e.what());
  }
  return 0;
}
