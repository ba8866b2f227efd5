#include "session_service/gateway_registry.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace gss {
namespace {

class RecordingSink final : public CommandSink {
 public:
  void Push(link::v1::PeerCommand command) override {
    pushed.push_back(std::move(command));
  }
  std::vector<link::v1::PeerCommand> pushed;
};

link::v1::PeerCommand Deliver(uint64_t connection_id) {
  link::v1::PeerCommand command;
  command.set_connection_id(connection_id);
  command.set_deliver("m");
  return command;
}

TEST(GatewayRegistryTest, CommandsReachTheAttachedGatewayOnly) {
  GatewayRegistry registry;
  auto one = std::make_shared<RecordingSink>();
  auto two = std::make_shared<RecordingSink>();
  EXPECT_EQ(registry.Attach(1, one).gateways, 1u);
  EXPECT_EQ(registry.Attach(2, two).gateways, 2u);
  EXPECT_TRUE(registry.Send(1, Deliver(10)));
  EXPECT_TRUE(registry.Send(2, Deliver(20)));
  EXPECT_FALSE(registry.Send(3, Deliver(30)));
  ASSERT_EQ(one->pushed.size(), 1u);
  EXPECT_EQ(one->pushed[0].connection_id(), 10u);
  ASSERT_EQ(two->pushed.size(), 1u);
  EXPECT_EQ(two->pushed[0].connection_id(), 20u);
}

TEST(GatewayRegistryTest, ANewerAttachmentReplacesAndTheOlderDetachIsIgnored) {
  GatewayRegistry registry;
  auto old_stream = std::make_shared<RecordingSink>();
  auto new_stream = std::make_shared<RecordingSink>();
  const uint64_t old_attachment = registry.Attach(1, old_stream).attachment;
  const GatewayRegistry::Attached replaced = registry.Attach(1, new_stream);
  EXPECT_NE(replaced.attachment, old_attachment);
  EXPECT_EQ(replaced.gateways, 1u);
  EXPECT_TRUE(registry.Send(1, Deliver(10)));
  EXPECT_TRUE(old_stream->pushed.empty());
  EXPECT_EQ(new_stream->pushed.size(), 1u);
  // The old stream ending must not take the new one with it.
  EXPECT_EQ(registry.Detach(1, old_attachment), std::nullopt);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.Detach(1, replaced.attachment), 0u);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.Send(1, Deliver(11)));
  EXPECT_EQ(registry.Detach(1, replaced.attachment), std::nullopt);
}

}  // namespace
}  // namespace gss
