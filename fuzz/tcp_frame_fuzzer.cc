// Fuzz target for the TCP frame decoder (common/wire_format): a byte stream is
// fed in chunks of varying size, and what comes out is compared with a plain
// reading of the same stream; frames re-encoded must decode to themselves.
//
// Input: byte 0 picks the maximum frame size, byte 1 how the rest is cut into
// reads (0: one read), the rest is the stream a client sent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/wire_format.h"
#include "fuzz/fuzz_check.h"

namespace {

using gss::wire::kTcpHeaderSize;

constexpr uint32_t kMaxFrameSizes[] = {
    0, 1, 7, 255, 4096, gss::wire::kDefaultMaxFrameSize};

uint32_t BigEndian32(absl::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value = value << 8 | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

// The stream read the obvious way, all at once.
struct Reading {
  std::vector<std::string> frames;
  bool oversized = false;  // A header over the maximum follows the frames.
  size_t consumed = 0;     // Bytes making up `frames`.
};

Reading ReadWhole(absl::string_view stream, uint32_t max_frame_size) {
  Reading reading;
  size_t offset = 0;
  while (stream.size() - offset >= kTcpHeaderSize) {
    const uint32_t length = BigEndian32(stream.substr(offset));
    if (length > max_frame_size) {
      reading.oversized = true;
      break;
    }
    if (stream.size() - offset - kTcpHeaderSize < length) break;
    reading.frames.emplace_back(stream.substr(offset + kTcpHeaderSize, length));
    offset += kTcpHeaderSize + length;
  }
  reading.consumed = offset;
  return reading;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t max_frame_size =
      kMaxFrameSizes[data[0] % std::size(kMaxFrameSizes)];
  const uint8_t max_read = data[1];
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 2,
                                 size - 2);

  gss::wire::TcpFrameDecoder decoder(max_frame_size);
  std::vector<std::string> frames;
  bool failed = false;
  uint32_t cut = max_read;  // Drives the read sizes; any sequence will do.
  size_t offset = 0;
  while (offset < stream.size()) {
    size_t read = stream.size() - offset;
    if (max_read != 0) {
      cut = cut * 1103515245u + 12345u;
      read = std::min<size_t>(read, 1 + (cut >> 16) % max_read);
    }
    const absl::Status fed = decoder.Feed(stream.substr(offset, read));
    offset += read;
    if (!fed.ok()) {
      FUZZ_CHECK(absl::IsResourceExhausted(fed));
      failed = true;
    } else {
      // Poisoning sticks: once refused, the stream is never accepted again.
      FUZZ_CHECK(!failed);
    }
    std::string frame;
    while (decoder.Next(frame)) {
      FUZZ_CHECK(!failed);
      FUZZ_CHECK(frame.size() <= max_frame_size);
      frames.push_back(frame);
    }
  }
  // An oversized header that Next() came upon after the last read shows on
  // the next feed.
  if (!decoder.Feed("").ok()) failed = true;

  const Reading expected = ReadWhole(stream, max_frame_size);
  FUZZ_CHECK(frames == expected.frames);
  FUZZ_CHECK(failed == expected.oversized);
  if (!failed) {
    FUZZ_CHECK(decoder.buffered() == stream.size() - expected.consumed);
  }

  // Round trip: the frames encode back to the bytes they came from, and that
  // encoding decodes to the same frames with nothing left over.
  std::string encoded;
  for (const std::string& frame : frames) {
    gss::wire::AppendTcpFrame(frame, encoded);
  }
  FUZZ_CHECK(encoded == stream.substr(0, expected.consumed));
  gss::wire::TcpFrameDecoder again(max_frame_size);
  FUZZ_CHECK(again.Feed(encoded).ok());
  std::vector<std::string> decoded;
  std::string frame;
  while (again.Next(frame)) decoded.push_back(frame);
  FUZZ_CHECK(decoded == frames);
  FUZZ_CHECK(again.buffered() == 0);
  return 0;
}
