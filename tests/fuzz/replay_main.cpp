// Replays a fuzz target's seed corpus (and any crash files added to it) as a GoogleTest
// case per file, so that every ordinary build checks what the fuzzer found.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

class corpus_file : public testing::Test {
  public:
    explicit corpus_file(std::filesystem::path path) : path_(std::move(path)) {}
    void TestBody() override {
        std::ifstream in(path_, std::ios::binary);
        ASSERT_TRUE(in) << "cannot read " << path_;
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in), {}};
        // Copy into an exactly sized heap block so ASan sees any over-read.
        const auto copy = std::make_unique<std::uint8_t[]>(bytes.size() + 1);
        std::copy(bytes.begin(), bytes.end(), copy.get());
        EXPECT_EQ(LLVMFuzzerTestOneInput(copy.get(), bytes.size()), 0);
    }

  private:
    std::filesystem::path path_;
};

}  // namespace

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(KSN_CORPUS_DIR)) {
        if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::fprintf(stderr, "no seed files in %s\n", KSN_CORPUS_DIR);
        return 1;
    }
    for (const auto& f : files) {
        testing::RegisterTest("corpus", f.filename().string().c_str(), nullptr, nullptr, __FILE__,
                              __LINE__, [f]() -> testing::Test* { return new corpus_file(f); });
    }
    return RUN_ALL_TESTS();
}
