#include "base/errno.h"

#include <cstring>

namespace base {

std::string_view ErrnoName(Errno e) {
  switch (e) {
    case Errno::kEPERM: return "EPERM";
    case Errno::kENOENT: return "ENOENT";
    case Errno::kESRCH: return "ESRCH";
    case Errno::kEINTR: return "EINTR";
    case Errno::kEIO: return "EIO";
    case Errno::kENXIO: return "ENXIO";
    case Errno::kE2BIG: return "E2BIG";
    case Errno::kENOEXEC: return "ENOEXEC";
    case Errno::kEBADF: return "EBADF";
    case Errno::kECHILD: return "ECHILD";
    case Errno::kEAGAIN: return "EAGAIN";
    case Errno::kENOMEM: return "ENOMEM";
    case Errno::kEACCES: return "EACCES";
    case Errno::kEFAULT: return "EFAULT";
    case Errno::kENOTBLK: return "ENOTBLK";
    case Errno::kEBUSY: return "EBUSY";
    case Errno::kEEXIST: return "EEXIST";
    case Errno::kEXDEV: return "EXDEV";
    case Errno::kENODEV: return "ENODEV";
    case Errno::kENOTDIR: return "ENOTDIR";
    case Errno::kEISDIR: return "EISDIR";
    case Errno::kEINVAL: return "EINVAL";
    case Errno::kENFILE: return "ENFILE";
    case Errno::kEMFILE: return "EMFILE";
    case Errno::kENOTTY: return "ENOTTY";
    case Errno::kETXTBSY: return "ETXTBSY";
    case Errno::kEFBIG: return "EFBIG";
    case Errno::kENOSPC: return "ENOSPC";
    case Errno::kESPIPE: return "ESPIPE";
    case Errno::kEROFS: return "EROFS";
    case Errno::kEMLINK: return "EMLINK";
    case Errno::kEPIPE: return "EPIPE";
    case Errno::kEDOM: return "EDOM";
    case Errno::kERANGE: return "ERANGE";
    case Errno::kEDEADLK: return "EDEADLK";
    case Errno::kENAMETOOLONG: return "ENAMETOOLONG";
    case Errno::kENOLCK: return "ENOLCK";
    case Errno::kENOSYS: return "ENOSYS";
    case Errno::kENOTEMPTY: return "ENOTEMPTY";
    case Errno::kELOOP: return "ELOOP";
    case Errno::kENOMSG: return "ENOMSG";
    case Errno::kEIDRM: return "EIDRM";
    case Errno::kECHRNG: return "ECHRNG";
    case Errno::kEL2NSYNC: return "EL2NSYNC";
    case Errno::kEL3HLT: return "EL3HLT";
    case Errno::kEL3RST: return "EL3RST";
    case Errno::kELNRNG: return "ELNRNG";
    case Errno::kEUNATCH: return "EUNATCH";
    case Errno::kENOCSI: return "ENOCSI";
    case Errno::kEL2HLT: return "EL2HLT";
    case Errno::kEBADE: return "EBADE";
    case Errno::kEBADR: return "EBADR";
    case Errno::kEXFULL: return "EXFULL";
    case Errno::kENOANO: return "ENOANO";
    case Errno::kEBADRQC: return "EBADRQC";
    case Errno::kEBADSLT: return "EBADSLT";
    case Errno::kEBFONT: return "EBFONT";
    case Errno::kENOSTR: return "ENOSTR";
    case Errno::kENODATA: return "ENODATA";
    case Errno::kETIME: return "ETIME";
    case Errno::kENOSR: return "ENOSR";
    case Errno::kENONET: return "ENONET";
    case Errno::kENOPKG: return "ENOPKG";
    case Errno::kEREMOTE: return "EREMOTE";
    case Errno::kENOLINK: return "ENOLINK";
    case Errno::kEADV: return "EADV";
    case Errno::kESRMNT: return "ESRMNT";
    case Errno::kECOMM: return "ECOMM";
    case Errno::kEPROTO: return "EPROTO";
    case Errno::kEMULTIHOP: return "EMULTIHOP";
    case Errno::kEDOTDOT: return "EDOTDOT";
    case Errno::kEBADMSG: return "EBADMSG";
    case Errno::kEOVERFLOW: return "EOVERFLOW";
    case Errno::kENOTUNIQ: return "ENOTUNIQ";
    case Errno::kEBADFD: return "EBADFD";
    case Errno::kEREMCHG: return "EREMCHG";
    case Errno::kELIBACC: return "ELIBACC";
    case Errno::kELIBBAD: return "ELIBBAD";
    case Errno::kELIBSCN: return "ELIBSCN";
    case Errno::kELIBMAX: return "ELIBMAX";
    case Errno::kELIBEXEC: return "ELIBEXEC";
    case Errno::kEILSEQ: return "EILSEQ";
    case Errno::kERESTART: return "ERESTART";
    case Errno::kESTRPIPE: return "ESTRPIPE";
    case Errno::kEUSERS: return "EUSERS";
    case Errno::kENOTSOCK: return "ENOTSOCK";
    case Errno::kEDESTADDRREQ: return "EDESTADDRREQ";
    case Errno::kEMSGSIZE: return "EMSGSIZE";
    case Errno::kEPROTOTYPE: return "EPROTOTYPE";
    case Errno::kENOPROTOOPT: return "ENOPROTOOPT";
    case Errno::kEPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case Errno::kESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case Errno::kEOPNOTSUPP: return "EOPNOTSUPP";
    case Errno::kEPFNOSUPPORT: return "EPFNOSUPPORT";
    case Errno::kEAFNOSUPPORT: return "EAFNOSUPPORT";
    case Errno::kEADDRINUSE: return "EADDRINUSE";
    case Errno::kEADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case Errno::kENETDOWN: return "ENETDOWN";
    case Errno::kENETUNREACH: return "ENETUNREACH";
    case Errno::kENETRESET: return "ENETRESET";
    case Errno::kECONNABORTED: return "ECONNABORTED";
    case Errno::kECONNRESET: return "ECONNRESET";
    case Errno::kENOBUFS: return "ENOBUFS";
    case Errno::kEISCONN: return "EISCONN";
    case Errno::kENOTCONN: return "ENOTCONN";
    case Errno::kESHUTDOWN: return "ESHUTDOWN";
    case Errno::kETOOMANYREFS: return "ETOOMANYREFS";
    case Errno::kETIMEDOUT: return "ETIMEDOUT";
    case Errno::kECONNREFUSED: return "ECONNREFUSED";
    case Errno::kEHOSTDOWN: return "EHOSTDOWN";
    case Errno::kEHOSTUNREACH: return "EHOSTUNREACH";
    case Errno::kEALREADY: return "EALREADY";
    case Errno::kEINPROGRESS: return "EINPROGRESS";
    case Errno::kESTALE: return "ESTALE";
    case Errno::kEUCLEAN: return "EUCLEAN";
    case Errno::kENOTNAM: return "ENOTNAM";
    case Errno::kENAVAIL: return "ENAVAIL";
    case Errno::kEISNAM: return "EISNAM";
    case Errno::kEREMOTEIO: return "EREMOTEIO";
    case Errno::kEDQUOT: return "EDQUOT";
    case Errno::kENOMEDIUM: return "ENOMEDIUM";
    case Errno::kEMEDIUMTYPE: return "EMEDIUMTYPE";
    case Errno::kECANCELED: return "ECANCELED";
    case Errno::kENOKEY: return "ENOKEY";
    case Errno::kEKEYEXPIRED: return "EKEYEXPIRED";
    case Errno::kEKEYREVOKED: return "EKEYREVOKED";
    case Errno::kEKEYREJECTED: return "EKEYREJECTED";
    case Errno::kEOWNERDEAD: return "EOWNERDEAD";
    case Errno::kENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case Errno::kERFKILL: return "ERFKILL";
    case Errno::kERESTARTSYS: return "ERESTARTSYS";
    case Errno::kERESTARTNOINTR: return "ERESTARTNOINTR";
    case Errno::kERESTARTNOHAND: return "ERESTARTNOHAND";
    case Errno::kERESTART_RESTARTBLOCK: return "ERESTART_RESTARTBLOCK";
  }
  return "E?";
}

std::string_view ErrnoText(Errno e) {
  // strerror() of glibc is thread-safe for known values (static strings).
  return std::strerror(static_cast<int>(e));
}

}  // namespace base
