// absl::Status to grpc::Status at the service's gRPC edges: the canonical
// codes are the same numbers, the message is kept.
#ifndef SESSION_SERVICE_GRPC_STATUS_H_
#define SESSION_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace gss {

inline grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace gss

#endif  // SESSION_SERVICE_GRPC_STATUS_H_
