/*
 * A worker's counters for Prometheus: kept in shared memory by its
 * consumers, served by its supervisor on --metrics host:port.
 */

#ifndef _MEDIA_METRICS_H_INCLUDED_
#define _MEDIA_METRICS_H_INCLUDED_


/* before the consumers are forked: the shared counters and, with
 * --metrics, the listening socket; -1 (logged) when it cannot listen */
int media_metrics_init(void);

/* a consumer's job begins, and ends with the handler's outcome (0 done,
 * MEDIA_JOB_RELEASE released, else failed) */
void media_metrics_job_start(const char *job, const char *media);
void media_metrics_job_end(int outcome);

/*
 * The supervisor's wait between its turns: up to ms, answering scrapes
 * meanwhile, waking early when asked to stop.  Never blocks on a client.
 */
void media_metrics_wait(long ms);

/* the consumers running now, for the gauge */
void media_metrics_consumers(int n);

void media_metrics_done(void);


#endif /* _MEDIA_METRICS_H_INCLUDED_ */
