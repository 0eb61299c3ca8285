// SPDX-License-Identifier: MIT
/*
 * Retention's pacing (retention.h). The store decides what may be pruned;
 * this decides when, so that polling and commits go on between steps.
 */
#include "daemon/retention.h"

#include "common/log.h"
#include "common/util.h"

bool retention_busy(const struct retention *rt)
{
    return rt->more;
}

void retention_step(struct retention *rt, struct store *s, int days,
                    int64_t max_seq, int64_t now)
{
    struct store_prune_result res;
    int64_t before_us;

    if (days <= 0 || now < rt->at)
        return;
    before_us = time_real_us() - (int64_t)days * 86400 * 1000000;
    if (store_prune(s, before_us, max_seq, RETENTION_STEP, &res) < 0) {
        if (!rt->failing)
            log_err("retention: %s; tried again in %d s", store_errmsg(s),
                    RETENTION_IDLE_MS / 1000);
        rt->failing = true;
        rt->more = false;
        rt->at = now + RETENTION_IDLE_MS * NS_PER_MS;
        return;
    }
    rt->failing = false;
    rt->more = res.more;
    rt->at = res.more ? now : now + RETENTION_IDLE_MS * NS_PER_MS;
    rt->pruned += res.readings;
    rt->pruned_batches += res.batches;
    if (res.damaged > 0)
        log_warnx("retention: %lld batches do not verify and are kept; "
                  "run 'tbdaq verify'",
                  (long long)res.damaged);
    if (rt->pruned > 0 && (now >= rt->report_at || !res.more)) {
        char horizon[TIME_ISO_LEN];

        time_format_iso(before_us, horizon);
        log_info("retention: pruned %lld readings in %lld batches older than "
                 "%s (outside runs)",
                 (long long)rt->pruned, (long long)rt->pruned_batches, horizon);
        rt->pruned = rt->pruned_batches = 0;
        rt->report_at = now + RETENTION_REPORT_MS * NS_PER_MS;
    }
}
