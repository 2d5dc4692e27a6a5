/* Helpers shared by the tests/dist programs. */
#ifndef INGOT_DIST_TEST_H
#define INGOT_DIST_TEST_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_check.h"

/* A loopback port that was free a moment ago (the kernel's choice for port
 * 0): each scenario gets its own, so a slow one cannot disturb the next. */
static inline int dist_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
          !getsockname(fd, (struct sockaddr *)&sa, &len));
    close(fd);
    return ntohs(sa.sin_port);
}

#endif
