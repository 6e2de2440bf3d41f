// /proc/[pid]/net (and /proc/net -> self/net) in Linux's formats
// (net/core/net-procfs.c, net/ipv4/tcp_ipv4.c, udp.c, route.c, proc.c,
// net/ipv6/addrconf.c, net/unix/af_unix.c). The sandbox has its own network
// namespace and no sockets yet (TODO(#4): fill the socket tables from
// netstack/ once it exists): only its loopback, with zero counters, and
// empty socket tables. Nothing here describes the host's network.
#include <string>
#include <string_view>

#include "fs/proc_internal.h"
#include <fmt/format.h>

namespace fs::proc {
namespace {

// seq_pad(): socket table headers are padded with spaces to a fixed width.
std::string Padded(std::string_view s, size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out + "\n";
}

std::string DevText() {
  std::string s =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
      "carrier compressed\n";
  // dev_seq_printf_stats().
  s += fmt::format("{:>6}:{:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>10} {:>9} {:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}\n",
                   "lo", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  return s;
}

// "Name: a b c" header lines and their values: a value line of zeros unless
// given.
std::string Counters(std::string_view name, std::string_view fields, std::string_view values = {}) {
  std::string v(values);
  if (v.empty()) {
    size_t n = 1;
    for (char ch : fields) n += ch == ' ';
    for (size_t i = 0; i < n; ++i) v += i == 0 ? "0" : " 0";
  }
  return fmt::format("{0}: {1}\n{0}: {2}\n", name, fields, v);
}

std::string SnmpText() {
  // Forwarding 2: not a router (ip_forward 0); DefaultTTL 64; TCP's RTO
  // algorithm, bounds (ms) and MaxConn -1 are Linux's constants.
  return Counters("Ip",
                  "Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos "
                  "InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs "
                  "ReasmFails FragOKs FragFails FragCreates",
                  "2 64 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0") +
         Counters("Icmp",
                  "InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects "
                  "InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors "
                  "OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps "
                  "OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps") +
         Counters("Tcp",
                  "RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab "
                  "InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors",
                  "1 200 120000 -1 0 0 0 0 0 0 0 0 0 0 0") +
         Counters("Udp",
                  "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti "
                  "MemErrors") +
         Counters("UdpLite",
                  "InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti "
                  "MemErrors");
}

std::string NetstatText() {
  return Counters("TcpExt",
                  "SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned "
                  "OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow"
                  " TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows "
                  "ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging "
                  "TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo "
                  "TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans"
                  " TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail "
                  "TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv "
                  "TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed "
                  "TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo "
                  "TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged "
                  "TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop "
                  "IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail "
                  "TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive "
                  "TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow "
                  "TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking"
                  " TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent "
                  "TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd "
                  "TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait "
                  "TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered "
                  "TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig "
                  "TCPFastOpenPassiveAltKey TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs "
                  "TCPDSACKIgnoredDubious TCPMigrateReqSuccess TCPMigrateReqFailure TCPPLBRehash TCPAORequired TCPAOBad"
                  " TCPAOKeyNotFound TCPAOGood TCPAODroppedIcmps") +
         Counters("IpExt",
                  "InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets "
                  "InMcastOctets OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts "
                  "InECT0Pkts InCEPkts ReasmOverlaps");
}

}  // namespace

std::shared_ptr<SyntheticDir> NetDir(uint64_t dev) {
  auto net = SyntheticDir::New(dev);
  net->SetProcStyle();
  net->AddChild("dev", FixedFile(dev, DevText()));
  // tcp4_seq_show pads to 149 columns, udp4_seg_show and rt_cache to 127.
  net->AddChild("tcp", FixedFile(dev, Padded("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                                             "retrnsmt   uid  timeout inode", 149)));
  net->AddChild("udp", FixedFile(dev, Padded("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                                             "retrnsmt   uid  timeout inode ref pointer drops", 127)));
  net->AddChild("tcp6", FixedFile(dev, "  sl  local_address                         remote_address                "
                                       "        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"));
  net->AddChild("udp6", FixedFile(dev, "  sl  local_address                         remote_address                "
                                       "        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode "
                                       "ref pointer drops\n"));
  net->AddChild("raw", FixedFile(dev, Padded("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
                                             "retrnsmt   uid  timeout inode ref pointer drops", 127)));
  net->AddChild("unix", FixedFile(dev, "Num       RefCount Protocol Flags    Type St Inode Path\n"));
  // The loopback's ::1 (ifindex 1, /128, host scope, permanent).
  net->AddChild("if_inet6", FixedFile(dev, "00000000000000000000000000000001 01 80 10 80       lo\n"));
  // The main table: lo's 127.0.0.0/8 is in the local table, not listed.
  net->AddChild("route", FixedFile(dev, Padded("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU"
                                               "\tWindow\tIRTT", 127)));
  net->AddChild("arp", FixedFile(dev, "IP address       HW type     Flags       HW address            Mask     Device\n"));
  net->AddChild("snmp", FixedFile(dev, SnmpText()));
  net->AddChild("netstat", FixedFile(dev, NetstatText()));
  net->AddChild("sockstat", FixedFile(dev, "sockets: used 0\nTCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\nUDP: inuse 0 mem 0\n"
                                           "UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n"));
  return net;
}

}  // namespace fs::proc
