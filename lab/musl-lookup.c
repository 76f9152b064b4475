/*
 * One getaddrinfo() per argument, linked statically against musl (musl-gcc -static), so the dns-lab can watch what
 * Alpine's resolver sends. Usage: musl-lookup [-4] name...   (-4: AF_INET, otherwise AF_UNSPEC like most clients)
 * Prints one line per name: "OK addr addr..." or "ERR <code> <message>".
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  int family = AF_UNSPEC;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-4") == 0) {
      family = AF_INET;
      continue;
    }
    struct addrinfo hints, *res = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(argv[i], 0, &hints, &res);
    if (rc != 0) {
      printf("ERR %d %s\n", rc, gai_strerror(rc));
    } else {
      printf("OK");
      for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = "";
        if (ai->ai_family == AF_INET)
          inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, text, sizeof text);
        else if (ai->ai_family == AF_INET6)
          inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, text, sizeof text);
        printf(" %s", text);
      }
      printf("\n");
      freeaddrinfo(res);
    }
    fflush(stdout);
  }
  return 0;
}
