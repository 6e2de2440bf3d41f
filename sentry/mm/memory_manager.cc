#include "sentry/mm/memory_manager.h"
// TODO(#3): implemented by the mm work.
