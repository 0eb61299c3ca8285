// SPDX-License-Identifier: MIT
/* placeholder */
#include "lib/report_private.h"

int report_html(struct report *r)
{
    return report_json(r);
}
