#include "cli.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "nn/text.hpp"

namespace cli {

namespace {

// A whole number of decimal digits only (no sign, no spaces, no 0x), within std::size_t.
bool parse_count(const std::string& v, std::size_t& x) {
  if (v.empty() || v.size() > 20 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
  if (errno != 0 || n > std::numeric_limits<std::size_t>::max()) return false;
  x = static_cast<std::size_t>(n);
  return true;
}

// A finite number, the whole text read by strtod.
bool parse_real(const std::string& v, double& x) {
  if (v.empty()) return false;
  char* end = nullptr;
  errno = 0;
  x = std::strtod(v.c_str(), &end);
  return *end == '\0' && errno == 0 && std::isfinite(x);
}

std::string count_range(std::size_t lo, std::size_t hi) {
  return hi == no_limit ? ">= " + std::to_string(lo)
                        : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

std::string join(const std::vector<std::string>& names, const char* sep) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : sep) + n;
  return s;
}

// A flag stored by a callback that runs after its validator: `set` converts a value `check`
// accepted.
CLI::Option* add(CLI::App& app, const std::string& name, const std::string& type,
                 const std::string& range, std::function<std::string(const std::string&)> check,
                 std::function<void(const std::string&)> set, const std::string& help) {
  CLI::Option* opt = app.add_option_function<std::string>(name, std::move(set), help);
  opt->type_name(type);
  opt->check(CLI::Validator([check = std::move(check)](std::string& v) { return check(v); }, range));
  return opt;
}

// Words of `text` in lines of at most `width` characters (a longer word gets a line of its own).
std::string wrap(const std::string& text, std::size_t width) {
  std::string out, line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    word.clear();
  };
  for (char c : text + " ") {
    if (c == ' ' || c == '\n') {
      flush_word();
      if (c == '\n') {
        out += line + "\n";
        line.clear();
      }
    } else {
      word += c;
    }
  }
  return out + line;
}

// CLI11's help with the usage line first, then the program's description, and each flag's text
// wrapped beside the flag column so that --help reads in a 100-column terminal.
class Formatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App*) const override { return {}; }
  std::string make_usage(const CLI::App* app, std::string name) const override {
    return CLI::Formatter::make_usage(app, std::move(name)) + "\n" + app->get_description() + "\n";
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    return wrap(opt->get_description(), column_width_ < 70 ? 100 - column_width_ : 30);
  }
};

}  // namespace

void use_help_format(CLI::App& app, std::size_t flag_column) {
  auto formatter = std::make_shared<Formatter>();
  formatter->column_width(flag_column);
  app.formatter(formatter);
}

std::string bound(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

CLI::Option* add_count(CLI::App& app, const std::string& name, std::size_t& target, std::size_t lo,
                       std::size_t hi, const std::string& help) {
  const std::string range = count_range(lo, hi);
  return add(
      app, name, "N", range,
      [lo, hi, range](const std::string& v) {
        std::size_t x = 0;
        return parse_count(v, x) && x >= lo && x <= hi
                   ? std::string()
                   : nn::quote(v) + " is not a whole number " + range;
      },
      [&target](const std::string& v) { parse_count(v, target); }, help);
}

CLI::Option* add_real(CLI::App& app, const std::string& name, double& target, double lo, double hi,
                      const std::string& help) {
  const std::string range = "in [" + bound(lo) + ", " + bound(hi) + "]";
  return add(
      app, name, "X", range,
      [lo, hi, range](const std::string& v) {
        double x = 0.0;
        return parse_real(v, x) && x >= lo && x <= hi ? std::string()
                                                       : nn::quote(v) + " is not a number " + range;
      },
      [&target](const std::string& v) { parse_real(v, target); }, help);
}

CLI::Option* add_open_real(CLI::App& app, const std::string& name, double& target, double lo,
                           double hi, const std::string& help) {
  const std::string range = "in (" + bound(lo) + ", " + bound(hi) + ")";
  return add(
      app, name, "X", range,
      [lo, hi, range](const std::string& v) {
        double x = 0.0;
        return parse_real(v, x) && x > lo && x < hi ? std::string()
                                                     : nn::quote(v) + " is not a number " + range;
      },
      [&target](const std::string& v) { parse_real(v, target); }, help);
}

CLI::Option* add_choice(CLI::App& app, const std::string& name, std::string& target,
                        const std::vector<std::string>& names, const std::string& help) {
  return add(
      app, name, "NAME", "{" + join(names, ",") + "}",
      [names](const std::string& v) {
        return std::find(names.begin(), names.end(), v) != names.end()
                   ? std::string()
                   : nn::quote(v) + " is not one of " + join(names, ", ");
      },
      [&target](const std::string& v) { target = v; }, help);
}

CLI::Option* add_path(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& type, const std::string& help) {
  return add(
      app, name, type, "",
      [](const std::string& v) { return v.empty() ? std::string("empty path") : std::string(); },
      [&target](const std::string& v) { target = v; }, help);
}

CLI::Option* add_text(CLI::App& app, const std::string& name, std::string& target,
                      const std::string& type, std::function<std::string(const std::string&)> check,
                      const std::string& help) {
  return add(app, name, type, "", std::move(check), [&target](const std::string& v) { target = v; },
             help);
}

bool parse(CLI::App& app, const std::vector<std::string>& args) {
  // A flag given twice takes its last value, as argparse does.
  for (CLI::Option* opt : app.get_options()) {
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    if (opt->get_items_expected_max() == 0) opt->disable_flag_override();  // "--check=0" is refused
  }
  app.allow_extras();
  // The programs have no short flags but -h: CLI11 would read "-hx" as -h -x, and the rest of a
  // stack such as "-h-rate=1" as --rate=1.
  for (const std::string& a : args) {
    const bool number = a.size() > 1 && ((a[1] >= '0' && a[1] <= '9') || a[1] == '.');
    if (a.size() > 1 && a[0] == '-' && a[1] != '-' && !number && a != "-h") {
      throw std::invalid_argument("unknown flag " + nn::quote(a.substr(0, a.find('='))) + " (see --help)");
    }
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 reads from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return true;
  } catch (const CLI::ArgumentMismatch& e) {
    const std::string what = e.what();
    const std::size_t override = what.find(" was given a disallowed flag override");
    if (override != std::string::npos) {  // "--check=1"
      const std::string name = what.substr(0, override);  // CLI11 gives the name without dashes
      throw std::invalid_argument((name.rfind('-', 0) == 0 ? name : "--" + name) +
                                  ": takes no value (see --help)");
    }
    // "--passes: 1 required N missing": the flag is the text before the colon.
    throw std::invalid_argument(what.substr(0, what.find(':')) + ": missing value (see --help)");
  } catch (const CLI::ValidationError& e) {
    throw std::invalid_argument(e.what());  // "--flag: 'value' is not …" from the checks above
  } catch (const CLI::ParseError& e) {
    throw std::invalid_argument(std::string(e.what()) + " (see --help)");
  }
  const std::vector<std::string> extra = app.remaining();
  if (!extra.empty()) {
    const std::string& a = extra.front();
    if (a.size() > 1 && a[0] == '-') {
      throw std::invalid_argument("unknown flag " + nn::quote(a.substr(0, a.find('='))) + " (see --help)");
    }
    throw std::invalid_argument("unexpected argument " + nn::quote(a) + " (see --help)");
  }
  return false;
}

std::string given(const CLI::Option* option) {
  if (option->count() == 0 || option->results().empty()) return {};
  return option->results().back();
}

}  // namespace cli
