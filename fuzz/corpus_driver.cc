// Runs a fuzz target without libFuzzer: every file of the directories (or the
// single files) named on the command line goes through LLVMFuzzerTestOneInput
// once, in name order, so a seed corpus is a regression test in every build.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool ReadFile(const std::filesystem::path& path, std::string& contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  contents.assign(std::istreambuf_iterator<char>(in),
                  std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::vector<std::filesystem::path> files;
    std::error_code error;
    if (std::filesystem::is_directory(arg, error)) {
      for (const auto& entry :
           std::filesystem::directory_iterator(arg, error)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      if (error) {
        std::fprintf(stderr, "cannot list %s: %s\n", argv[i],
                     error.message().c_str());
        return 2;
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(arg);
    }
    size_t ran = 0;
    for (const std::filesystem::path& file : files) {
      std::string input;
      if (!ReadFile(file, input)) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 2;
      }
      // A copy sized exactly, so ASan sees a read past the end of the input.
      std::vector<uint8_t> bytes(input.begin(), input.end());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++ran;
    }
    std::printf("%s: %zu inputs\n", argv[i], ran);
    // An empty or missing corpus would make this test pass vacuously.
    if (ran == 0) {
      std::fprintf(stderr, "no inputs in %s\n", argv[i]);
      return 1;
    }
    total += ran;
  }
  std::printf("ran %zu inputs\n", total);
  return 0;
}
