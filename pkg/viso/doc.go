// Package viso reads VirtualBox .viso files: text files that describe an ISO image as
// an IPRT ISO-maker command line. This package handles the envelope — recognising the
// marker, the medium UUID, the size limit, the encoding, and splitting the text into
// arguments in the Bourne-shell or MS CRT dialect (see package argv). Turning those
// arguments into an image is the job of the ISO maker.
package viso
