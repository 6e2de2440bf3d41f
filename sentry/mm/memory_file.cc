#include "sentry/mm/memory_file.h"
// TODO(#3): implemented by the mm work.
