#pragma once
/// \file
/// The examples' command lines, declared with CLI11: each flag with its range or choices, so that
/// --help lists them, and one message format for bad values, "--flag: 'value' is not …", naming the
/// flag and the value (the programs' tests and the command-line fuzz target rely on it).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace cli {

/// The largest whole number a count flag takes when it has no upper limit of its own.
inline constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

/// Shortest form of a bound, "1e-12" rather than "0.000000" (a range that would seem to contain
/// the 0 it rejects).
std::string bound(double v);

/// Adds a flag taking a whole number in [lo, hi] (decimal digits only) into `target`.
CLI::Option* add_count(CLI::App& app, const std::string& name, std::size_t& target, std::size_t lo,
                       std::size_t hi, const std::string& help);
/// Adds a flag taking a finite number in [lo, hi] into `target`.
CLI::Option* add_real(CLI::App& app, const std::string& name, double& target, double lo, double hi,
                      const std::string& help);
/// Adds a flag taking a finite number strictly between lo and hi into `target`.
CLI::Option* add_open_real(CLI::App& app, const std::string& name, double& target, double lo,
                           double hi, const std::string& help);
/// Adds a flag taking one of `names` into `target`.
CLI::Option* add_choice(CLI::App& app, const std::string& name, std::string& target,
                        const std::vector<std::string>& names, const std::string& help);
/// Adds a flag taking a non-empty path into `target`.
CLI::Option* add_path(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& type, const std::string& help);
/// Adds a flag taking any text, checked by `check` (which returns "" or what is wrong, such as
/// "'x' is not a list of sizes"), into `target`.
CLI::Option* add_text(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& type, std::function<std::string(const std::string&)> check,
                      const std::string& help);

/// Sets app's --help layout: the usage line, the description, then the flags by group with their
/// text wrapped to 100 columns beside a flag column `flag_column` wide.
void use_help_format(CLI::App& app, std::size_t flag_column);

/// Parses args (without the program name) into the options declared on `app`: "--flag value" or
/// "--flag=value", the last value of a flag given twice. Returns true if --help or -h was given.
/// Throws std::invalid_argument naming the flag (and its value) for an unknown flag, a stray
/// argument, a missing value, a value given to a flag that takes none, or a value the flag's check
/// refuses.
bool parse(CLI::App& app, const std::vector<std::string>& args);

/// The value a flag was given (the last one if given more than once), or "" if it was not given.
std::string given(const CLI::Option* option);

}  // namespace cli
